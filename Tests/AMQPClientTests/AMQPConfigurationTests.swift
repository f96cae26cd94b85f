import AMQPClient
import XCTest

final class AMQPConfigurationTests: XCTestCase {
    func testAFullURLGivesEveryPartWithTheVirtualHostDecoded() throws {
        let configuration = try AMQPConfiguration(
            url: "amqp://ada:s%40cret@broker.local:5999/roster%2fsync?heartbeat=10&connection_timeout=2500")
        XCTAssertEqual(configuration.host, "broker.local")
        XCTAssertEqual(configuration.port, 5999)
        XCTAssertEqual(configuration.user, "ada")
        XCTAssertEqual(configuration.password, "s@cret")
        XCTAssertEqual(configuration.virtualHost, "roster/sync")
        XCTAssertEqual(configuration.heartbeat, 10)
        XCTAssertEqual(configuration.connectTimeout, 2.5)
        XCTAssertEqual(configuration.description, "amqp://ada@broker.local:5999/roster%2Fsync")
    }

    func testMissingPartsTakeTheDefaultsAndNoOrAnEmptyPathMeansTheRootVirtualHost() throws {
        for url in ["amqp://localhost", "amqp://localhost/", "amqp://localhost/%2f", "amqp://localhost/%2F"] {
            let configuration = try AMQPConfiguration(url: url)
            XCTAssertEqual(configuration.virtualHost, "/", url)
            XCTAssertEqual(configuration.port, 5672, url)
            XCTAssertEqual(configuration.user, "guest", url)
            XCTAssertEqual(configuration.password, "guest", url)
            XCTAssertEqual(configuration.heartbeat, 30, url)
            XCTAssertEqual(configuration.connectTimeout, 5, url)
            XCTAssertEqual(configuration.frameMax, 131_072, url)
        }
    }

    func testAMalformedURLIsAnInvalidConfigurationThatDoesNotRepeatThePassword() {
        let bad = [
            "http://guest:hunter2@localhost", "amqps://guest:hunter2@localhost", "amqp://guest:hunter2@/vhost",
            "amqp://guest:hunter2@localhost/a/b", "amqp://guest:hunter2@localhost?heartbeat=soon",
            "amqp://guest:hunter2@localhost?colour=blue", "not a url at all hunter2",
        ]
        for url in bad {
            XCTAssertThrowsError(try AMQPConfiguration(url: url), url) { error in
                XCTAssertEqual((error as? AMQPError)?.code, .invalidConfiguration, url)
                XCTAssertFalse("\(error)".contains("hunter2"), "\(error)")
            }
        }
    }
}

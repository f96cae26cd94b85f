import AMQPClient
import XCTest

final class AMQPConfigurationTests: XCTestCase {
    func testAFullURLGivesEveryPartWithTheVirtualHostDecoded() throws {
        let configuration = try AMQPConfiguration(url: "amqp://ada:s%40cret@broker.local:5999/roster%2fsync")
        XCTAssertEqual(configuration.host, "broker.local")
        XCTAssertEqual(configuration.port, 5999)
        XCTAssertEqual(configuration.user, "ada")
        XCTAssertEqual(configuration.password, "s@cret")
        XCTAssertEqual(configuration.virtualHost, "roster/sync")
    }
}

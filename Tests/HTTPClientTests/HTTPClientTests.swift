import Foundation
import HTTPClient
import XCTest

final class HTTPClientTests: XCTestCase {
    private var server: LocalServer!

    override func setUpWithError() throws {
        server = try LocalServer()
    }

    override func tearDown() {
        server.stop()
        server = nil
    }

    func testGetReturnsStatusBodyAndHeadersLookedUpInAnyCase() throws {
        let client = try HTTPClient()
        let response = try client.get(server.url + "/hello", headers: ["X-Asked": "please"])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "hello please")
        XCTAssertEqual(response.headers["x-greeting"], "Hi")
        XCTAssertEqual(response.headers["X-GREETING"], "Hi")
        XCTAssertEqual(response.headers["Content-Length"], "12")
        XCTAssertNil(response.headers["X-Missing"])
    }

    func testStatusOtherThan200IsAnAnswerNotAnError() throws {
        let client = try HTTPClient()
        let response = try client.get(server.url + "/missing")
        XCTAssertEqual(response.status, 404)
    }

    func testPostSendsTheBodyAsItIs() throws {
        let client = try HTTPClient()
        let body = Data("{\"a\":1}\u{0}tail".utf8)
        let response = try client.post(
            server.url + "/echo", headers: ["Content-Type": "application/json"], body: body)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, body)
        XCTAssertEqual(response.headers["X-Content-Type"], "application/json")

        let after = try client.get(server.url + "/hello")
        XCTAssertEqual(after.status, 200, "a GET after a POST on the same handle is a GET again")
    }

    func testRefusedConnectionIsConnectionFailed() throws {
        let port = try LocalServer.closedPort()
        let client = try HTTPClient(configuration: .init(connectTimeout: 1, timeout: 2))
        XCTAssertThrowsError(try client.get("http://127.0.0.1:\(port)/")) { error in
            let failure = error as? HTTPError
            XCTAssertEqual(failure?.code, .connectionFailed)
            XCTAssertEqual(failure?.isTransient, true)
        }
    }

    func testTotalTimeoutFiresOnASlowAnswer() throws {
        let client = try HTTPClient(configuration: .init(connectTimeout: 1, timeout: 0.5))
        XCTAssertThrowsError(try client.get(server.url + "/slow", headers: ["Authorization": "Bearer secret-token"])) {
            error in
            let failure = error as? HTTPError
            XCTAssertEqual(failure?.code, .timeout)
            XCTAssertEqual(failure?.curlCode, 28)
            XCTAssertEqual(failure?.isTransient, true)
            XCTAssertFalse("\(error)".contains("secret-token"))
        }
    }

    func testBodyCutShortIsConnectionDropped() throws {
        let client = try HTTPClient()
        XCTAssertThrowsError(try client.get(server.url + "/cut")) { error in
            XCTAssertEqual((error as? HTTPError)?.code, .connectionDropped)
        }
    }

    func testTwoRequestsShareOneConnection() throws {
        let client = try HTTPClient()
        let first = try client.get(server.url + "/peer")
        let second = try client.get(server.url + "/peer")
        XCTAssertEqual(client.connectionsOpened, 1)
        XCTAssertEqual(first.body, second.body, "the server saw both requests from the same client port")
    }

    func testTLSFailureIsNotTransient() throws {
        let client = try HTTPClient(configuration: .init(connectTimeout: 2, timeout: 3))
        // A plain-HTTP server answering a TLS handshake fails the handshake.
        let tlsURL = server.url.replacingOccurrences(of: "http://", with: "https://")
        XCTAssertThrowsError(try client.get(tlsURL + "/hello")) { error in
            XCTAssertEqual((error as? HTTPError)?.code, .tls)
            XCTAssertEqual((error as? HTTPError)?.isTransient, false)
        }
    }
}

/// A small Python HTTP/1.1 server with keep-alive, started for one test.
final class LocalServer {
    let url: String
    private let process = Process()

    private static let script = """
        import sys, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args):
                pass
            def reply(self, status, body, headers=()):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                if self.path == "/hello":
                    asked = self.headers.get("X-Asked") or ""
                    self.reply(200, ("hello " + asked).encode(), [("X-Greeting", "Hi")])
                elif self.path == "/slow":
                    time.sleep(3)
                    self.reply(200, b"late")
                elif self.path == "/peer":
                    self.reply(200, str(self.client_address[1]).encode())
                elif self.path == "/cut":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.reply(404, b"no")
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(200, body, [("X-Content-Type", self.headers.get("Content-Type") or "")])

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
        server.serve_forever()
        """

    init() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("httpclient-test-\(UUID()).py")
        try LocalServer.script.write(to: file, atomically: true, encoding: .utf8)
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", file.path]
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: "http://") else {
            process.terminate()
            throw TestFailure(description: "the test server did not start: \(text)")
        }
        url = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    /// A loopback port that nobody listens on: bound once to learn a free number, then closed.
    static func closedPort() throws -> Int {
        let probe = Process()
        let output = Pipe()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = [
            "python3", "-c",
            "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()",
        ]
        probe.standardOutput = output
        try probe.run()
        probe.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure(description: "no free port: \(text)")
        }
        return port
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

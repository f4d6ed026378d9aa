import Foundation
import Power
import Synchronization
import Testing

struct PowerRunnerTests {
    @Test func manualPowerTellsTheOperatorWhatToDo() {
        let request = PowerRunner.Request(id: 7, action: .on, bootPXE: true, powerType: "manual", parameters: "{}",
                                          context: PowerContext(systemID: "abc", hostname: "node1"))
        let result = PowerRunner.perform(request)
        #expect(!result.ok)
        #expect(result.error == .manual)
        #expect(result.message.contains("node1"))
        let query = PowerRunner.perform(PowerRunner.Request(id: 8, action: .query, bootPXE: false, powerType: "manual", parameters: "{}",
                                                            context: PowerContext(systemID: "abc", hostname: "node1")))
        #expect(query.ok && query.state == .unknown)
    }

    @Test func badParametersComeBackAsAResultNotACrash() {
        let result = PowerRunner.perform(PowerRunner.Request(id: 1, action: .on, bootPXE: false, powerType: "qmp", parameters: "not json",
                                                             context: PowerContext(systemID: "a", hostname: "b")))
        #expect(!result.ok)
        #expect(result.error == .parameters)
    }

    @Test func atMostLimitCallsRunAtOnce() throws {
        // Each call is to a silent listener, so it lasts its timeout: the runner holds the rest.
        let silent = SilentListener()
        let runner = PowerRunner(limit: 2)
        let parameters = #"{"on_url": "http://127.0.0.1:\#(silent.port)/on", "retries": 0, "timeout": 0.5}"#
        let results = Mutex<[PowerRunner.Result]>([])
        let threads = (0..<6).map { index in
            Thread {
                let request = PowerRunner.Request(id: Int64(index), action: .on, bootPXE: false, powerType: "webhook", parameters: parameters,
                                                  context: PowerContext(systemID: "m\(index)", hostname: "n\(index)"))
                let result = runner.run(request)
                results.withLock { $0.append(result) }
            }
        }
        threads.forEach { $0.start() }
        while results.withLock({ $0.count }) < 6 { usleep(10_000) }
        #expect(results.withLock { $0.allSatisfy { !$0.ok && $0.error == .unreachable } })
        #expect(runner.mostAtOnce <= 2)
        #expect(runner.mostAtOnce >= 1)
        #expect(runner.running == 0)
    }

    @Test func secretsAreRedacted() throws {
        let parameters = #"{"address": "10.0.0.5", "username": "admin", "password": "s3cret", "headers": {"X-Thing": "abc"}, "body": "{\"key\": 1}", "api_token": "t"}"#
        let redacted = String(decoding: PowerRedaction.redact(Array(parameters.utf8)), as: UTF8.self)
        #expect(!redacted.contains("s3cret") && !redacted.contains("abc") && !redacted.contains("\"t\""))
        let object = try JSONSerialization.jsonObject(with: Data(redacted.utf8)) as? [String: Any]
        #expect(object?["address"] as? String == "10.0.0.5")
        #expect(object?["username"] as? String == "admin")
        #expect(object?["password"] as? String == PowerRedaction.marker)
        #expect((object?["headers"] as? [String: Any])?["X-Thing"] as? String == PowerRedaction.marker)
        #expect(object?["body"] as? String == PowerRedaction.marker)
    }
}

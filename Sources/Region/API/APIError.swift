import Foundation
import Hummingbird

/// A refusal the client can act on: its status and a message, sent as `{"error": "…"}`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }

    static func notFound(_ objectType: String, _ id: String) -> APIError {
        APIError(.notFound, "no \(objectType) with id \(id)")
    }

    var response: Response { JSONBody.response(status: status, encoding: ["error": message]) }
}

/// Responses whose bodies are JSON text, either built by PostgreSQL (`row_to_json`) or encoded here.
enum JSONBody {
    static let contentType: HTTPFields = [.contentType: "application/json; charset=utf-8"]

    static func response(status: HTTPResponse.Status, json: String, headers: HTTPFields = [:]) -> Response {
        var fields = contentType
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }

    static func response(status: HTTPResponse.Status, encoding value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(status: status, headers: contentType, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

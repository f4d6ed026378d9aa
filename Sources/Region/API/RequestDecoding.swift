import Foundation
import Hummingbird

/// Request bodies: collected up to the limit, decoded strictly (a wrong type or a missing field
/// is a 400 that names the field).
enum RequestDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: RegionRequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, "a JSON body is required") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let names = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue.snakeCased }
            return names.isEmpty ? "body" : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "wrong type for \(path(context.codingPath)): expected \(Self.jsonTypeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) may not be null (expected \(Self.jsonTypeName(type)))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return "invalid value for \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "invalid body"
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt32.Type: return "an integer"
        case is [String].Type: return "an array of strings"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") || name.contains("JSONValue") { return "an object" }
            return "an object"
        }
    }
}

extension String {
    /// `domainId` → `domain_id`: error messages name fields as the client wrote them.
    var snakeCased: String {
        var result = ""
        for character in self {
            if character.isUppercase {
                result.append("_")
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// Any JSON value, for fields whose shape is the user's (power parameters), and for the
/// command line's API client.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// JSON text, for a `jsonb` parameter.
    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// A JSON object, refusing arrays and scalars with a message that says so.
struct JSONObject: Codable, Sendable, Hashable {
    var fields: [String: JSONValue]

    init(_ fields: [String: JSONValue] = [:]) { self.fields = fields }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            fields = try container.decode([String: JSONValue].self)
        } catch {
            throw DecodingError.typeMismatch([String: JSONValue].self, .init(codingPath: decoder.codingPath, debugDescription: "expected an object"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }

    var text: String { JSONValue.object(fields).text }
}

/// Text forms of Swift values for `PQexecParams` parameters.
enum SQLText {
    /// A PostgreSQL array literal, every element quoted so that no element text can add or split
    /// elements: `{"10.0.0.1","10.0.0.2"}`.
    static func array(_ elements: [String]) -> String {
        let quoted = elements.map { element -> String in
            var text = "\""
            for character in element {
                if character == "\"" || character == "\\" { text.append("\\") }
                text.append(character)
            }
            return text + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }

    static func bool(_ value: Bool) -> String { value ? "true" : "false" }
}

import Foundation
import Testing

@testable import SheafCore

struct LineReaderTests {
  /// Reads every line of `bytes` through a file, with `chunk`-byte reads.
  func lines(of bytes: [UInt8], chunk: Int) throws -> [String] {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "lines-\(UUID().uuidString)"
    ).path
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try LineReader(path: path, chunk: chunk)
    var result: [String] = []
    while let line = try reader.next() { result.append(String(decoding: line, as: UTF8.self)) }
    return result
  }

  @Test(arguments: [1, 2, 3, 7, 64, 65536])
  func linesSplitAcrossReads(_ chunk: Int) throws {
    let text = "{\"a\":1}\r\n\n{\"b\":\"é日本\"}\n   \n{\"c\":3}"
    #expect(
      try lines(of: Array(text.utf8), chunk: chunk) == [
        "{\"a\":1}", "", "{\"b\":\"é日本\"}", "   ", "{\"c\":3}",
      ])
  }

  @Test func countsEveryLine() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "count-\(UUID().uuidString)"
    ).path
    FileManager.default.createFile(atPath: path, contents: Data("a\n\nb\r\nc".utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try LineReader(path: path, chunk: 2)
    var numbers: [Int] = []
    while try reader.next() != nil { numbers.append(reader.lineNumber) }
    #expect(numbers == [1, 2, 3, 4])
  }

  @Test func emptyInputHasNoLines() throws {
    #expect(try lines(of: [], chunk: 16).isEmpty)
    #expect(try lines(of: Array("\n".utf8), chunk: 16) == [""])
  }

  @Test func aFiftyMegabyteLine() throws {
    let content = String(repeating: "word ", count: 10_000_000)
    let record = "{\"id\":\"big\",\"content\":\"\(content)\"}\n{\"id\":\"next\"}\n"
    let read = try lines(of: Array(record.utf8), chunk: 256 * 1024)
    #expect(read.count == 2)
    let value = try JSON.parse(read[0])
    #expect(value["content"]?.string?.utf8.count == 50_000_000)
    #expect(try JSON.parse(read[1])["id"]?.string == "next")
  }

  @Test func invalidUTF8IsMalformedInputNotACrash() throws {
    let bad: [UInt8] = Array("{\"a\":\"".utf8) + [0xC3, 0x28] + Array("\"}".utf8)
    let location = LineLocation(source: "stdin", line: 7)
    #expect(throws: ToolFailure.self) {
      try bad.withUnsafeBytes { try FilterLoop.parseObject($0, at: location) }
    }
    do {
      _ = try bad.withUnsafeBytes { try FilterLoop.parseObject($0, at: location) }
    } catch let failure as ToolFailure {
      #expect(failure.status == .malformedInput)
      #expect(failure.message.hasPrefix("stdin:7: invalid JSON: "))
    }
  }

  @Test func aTruncatedLastLineIsMalformed() throws {
    let read = try lines(of: Array("{\"a\":1}\n{\"b\":\"unfinish".utf8), chunk: 4)
    #expect(read.count == 2)
    #expect(throws: JSONSyntaxError.self) { try JSON.parse(read[1]) }
  }
}

import CCurl
import Foundation
import SheafCore

/// Seconds on a clock that only goes forward.
func monotonicNow() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The clock the engine reads and waits on.
///
/// Tests give a fake one, so timing rules are checked
/// without sleeping.
public protocol EngineClock: AnyObject {
  /// Seconds, only going forward.
  var now: Double { get }
  /// Waits until one of `fds` is readable or `timeout` seconds passed (a fake clock just moves).
  func wait(fds: [Int32], timeout: Double)
}

/// The process's monotonic clock.
public final class MonotonicClock: EngineClock {
  /// The clock.
  public init() {}

  public var now: Double { monotonicNow() }

  public func wait(fds: [Int32], timeout: Double) {
    var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    _ = poll(&polled, nfds_t(polled.count), Int32(max(0, min(timeout, 3600)) * 1000))
  }
}

/// How a transfer ended, in the transport's words; the engine decides what it means.
public enum TransferEnd: Equatable, Sendable {
  /// The body ended as the server meant it to.
  case complete
  /// The engine stopped it (its sink answered `false`).
  case stopped
  /// No connection could be made.
  case unreachable(String)
  /// The connection could not be made in time.
  case connectTimeout(String)
  /// The connection broke (reset, a body cut short, nothing received).
  case broken(String)
  /// The response headers could not be read (libcurl refuses headers over 100 KB).
  case badHeaders(String)
  /// Anything else, with the transport's code.
  case other(String, code: Int)
}

/// Receives what arrives for one transfer.
public protocol TransferSink: AnyObject {
  /// Any byte arrived, header or body.
  func activity()
  /// Body bytes; `false` stops the transfer.
  func body(_ bytes: UnsafeRawBufferPointer) -> Bool
}

/// One transfer in flight.
public protocol Transfer: AnyObject {
  /// The HTTP status (0 until the status line arrived).
  var status: Int { get }
  /// A response header, by name (case-insensitive).
  func header(_ name: String) -> String?
}

/// A transport failure that stops every transfer (libcurl's multi handle failed).
public struct TransportFailure: Error, Sendable {
  /// What went wrong.
  public var message: String
  /// The failure.
  public init(_ message: String) {
    self.message = message
  }
}

/// Where requests go: libcurl for HTTP, the built-in writer for `offline`, a script in tests.
///
/// The
/// engine starts transfers, moves them along with `perform`, and waits with `wait`.
public protocol Transport: AnyObject {
  /// Starts a transfer of `request`; what arrives goes to `sink`.
  /// - Throws: `TransportFailure` when the transfer cannot be started.
  func start(_ request: HTTPRequest, sink: TransferSink) throws -> Transfer
  /// Stops a transfer (finished or not).
  func stop(_ transfer: Transfer)
  /// Moves every transfer along without waiting; returns those that ended.
  /// - Throws: `TransportFailure` when the transport itself failed.
  func perform() throws -> [(Transfer, TransferEnd)]
  /// When the transport next has work to do without any descriptor becoming readable (a paced
  /// offline piece); `nil` when it waits for the network only.
  var nextDue: Double? { get }
  /// Waits for network activity, one of `fds`, or `timeout` seconds.
  /// - Throws: `TransportFailure` when the transport itself failed.
  func wait(fds: [Int32], timeout: Double) throws
}

// MARK: - libcurl

extension CurlTransfer: Transfer {}

/// HTTP through libcurl's multi interface: many transfers in one thread.
public final class CurlTransport: Transport {
  private let multi: CurlMulti
  private let connectTimeout: Double

  /// A transport with this connect timeout.
  /// - Throws: `TransportFailure` when libcurl cannot start.
  public init(connectTimeout: Double) throws {
    do {
      multi = try CurlMulti()
    } catch let error as CurlError {
      throw TransportFailure("libcurl: \(error.message)")
    }
    self.connectTimeout = connectTimeout
  }

  public func start(_ request: HTTPRequest, sink: TransferSink) throws -> Transfer {
    do {
      let transfer = try CurlTransfer(request, connectTimeout: connectTimeout)
      transfer.onActivity = { [unowned sink] in sink.activity() }
      transfer.onBody = { [unowned sink] bytes in sink.body(bytes) }
      try multi.add(transfer)
      return transfer
    } catch let error as CurlError {
      throw TransportFailure("libcurl: \(error.message)")
    }
  }

  public func stop(_ transfer: Transfer) {
    if let transfer = transfer as? CurlTransfer { multi.remove(transfer) }
  }

  public func perform() throws -> [(Transfer, TransferEnd)] {
    do { try multi.perform() } catch let error as CurlError {
      throw TransportFailure("libcurl: \(error.message)")
    }
    return multi.finished().map { transfer, code in
      multi.remove(transfer)
      return (transfer, Self.end(code, detail: transfer.message(for: code)))
    }
  }

  public var nextDue: Double? { nil }

  public func wait(fds: [Int32], timeout: Double) throws {
    do { try multi.poll(fds: fds, timeout: timeout) } catch let error as CurlError {
      throw TransportFailure("libcurl: \(error.message)")
    }
  }

  /// What a libcurl result code means for a transfer.
  static func end(_ code: CURLcode, detail: String) -> TransferEnd {
    switch code {
    case CURLE_OK: return .complete
    case CURLE_WRITE_ERROR: return .stopped
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return .unreachable(detail)
    case CURLE_OPERATION_TIMEDOUT: return .connectTimeout(detail)
    case _
    where detail.lowercased().contains("header") || code == CURLE_OUT_OF_MEMORY
      || code.rawValue == 100:
      // libcurl refuses response headers over 100 KB (7.88 says "Out of memory", later ones
      // CURLE_TOO_LARGE).
      return .badHeaders(detail)
    case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING:
      return .broken(detail)
    default: return .other(detail, code: Int(code.rawValue))
    }
  }
}

// MARK: - offline

/// The `offline` provider's transport: it writes the answer its request carries a piece (about a
/// token) at a time, after `delay` seconds, at `tps` pieces a second, on the engine's clock.
///
/// No network; the engine decodes it, removes thinking and writes events as for HTTP (the
/// network timeouts do not apply: nothing here can stall).
public final class OfflineTransport: Transport {
  private final class Writing: Transfer {
    /// Weak: the attempt holds its transfer, not the other way round.
    weak var sink: TransferSink?
    let pieces: [String]
    var next = 0
    var due: Double
    var stopped = false
    init(sink: TransferSink?, pieces: [String], due: Double) {
      self.sink = sink
      self.pieces = pieces
      self.due = due
    }
    var status: Int { 200 }
    func header(_ name: String) -> String? {
      name.lowercased() == "content-type" ? "text/plain; charset=utf-8" : nil
    }
  }

  private let clock: EngineClock
  private let delay: Double
  private let interval: Double
  private var writing: [Writing] = []

  /// A transport that starts writing after `delay` seconds, `tps` pieces a second (0: at once).
  public init(clock: EngineClock, delay: Double, tps: Double) {
    self.clock = clock
    self.delay = delay
    interval = tps > 0 ? 1 / tps : 0
  }

  public func start(_ request: HTTPRequest, sink: TransferSink) throws -> Transfer {
    let transfer = Writing(
      sink: sink, pieces: OfflineProvider.pieces(request.body), due: clock.now + delay)
    writing.append(transfer)
    return transfer
  }

  public func stop(_ transfer: Transfer) {
    writing.removeAll { $0 === transfer }
  }

  public func perform() throws -> [(Transfer, TransferEnd)] {
    let now = clock.now
    var ended: [(Transfer, TransferEnd)] = []
    for transfer in writing {
      while transfer.next < transfer.pieces.count && transfer.due <= now && !transfer.stopped {
        guard let sink = transfer.sink else {
          transfer.stopped = true
          break
        }
        sink.activity()
        var piece = transfer.pieces[transfer.next]
        transfer.stopped = !piece.withUTF8 { sink.body(UnsafeRawBufferPointer($0)) }
        transfer.next += 1
        transfer.due += interval
      }
      if transfer.stopped {
        ended.append((transfer, .stopped))
      } else if transfer.next == transfer.pieces.count && transfer.due - interval <= now {
        ended.append((transfer, .complete))
      }
    }
    writing.removeAll { transfer in ended.contains { $0.0 === transfer } }
    return ended
  }

  public var nextDue: Double? { writing.map(\.due).min() }

  public func wait(fds: [Int32], timeout: Double) throws {
    clock.wait(fds: fds, timeout: timeout)
  }
}

import CCurl
import Foundation
import SheafCore

/// A libcurl error code, with libcurl's words.
struct CurlError: Error {
  var code: CURLcode
  var message: String
}

/// Every easy-handle return code passes through here.
/// - Throws: `CurlError` with libcurl's message.
func check(_ code: CURLcode) throws {
  guard code == CURLE_OK else {
    throw CurlError(code: code, message: String(cString: curl_easy_strerror(code)))
  }
}

/// Every multi-handle return code passes through here.
/// - Throws: `CurlError` with libcurl's message.
func check(_ code: CURLMcode) throws {
  guard code == CURLM_OK else {
    throw CurlError(code: CURLE_FAILED_INIT, message: String(cString: curl_multi_strerror(code)))
  }
}

/// One HTTP request as a libcurl easy handle: it owns the handle, its header list and its error
/// buffer, and hands what arrives to its owner.
///
/// Not thread-safe: it lives on the event loop.
final class CurlTransfer {
  /// The easy handle.
  let easy: UnsafeMutableRawPointer
  private var headerList: UnsafeMutablePointer<curl_slist>?
  private let errorBuffer: UnsafeMutablePointer<CChar>
  /// Response header lines (the last response's, after redirects or 100 Continue).
  private(set) var responseHeaders: [String] = []
  /// Called with each piece of the body; returning `false` aborts the transfer.
  var onBody: (UnsafeRawBufferPointer) -> Bool = { _ in true }
  /// Called when any byte (header or body) arrives.
  var onActivity: () -> Void = {}

  /// Prepares a POST of `request` (a GET with `get`) with a connect timeout.
  /// - Throws: `CurlError` when libcurl refuses an option.
  init(_ request: HTTPRequest, connectTimeout: Double, get: Bool = false) throws {
    guard let easy = curl_easy_init() else {
      throw CurlError(code: CURLE_FAILED_INIT, message: "curl_easy_init failed")
    }
    self.easy = easy
    errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    for line in request.headers { headerList = curl_slist_append(headerList, line) }
    let me = Unmanaged.passUnretained(self).toOpaque()
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_URL, request.url))
    try check(sheaf_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
    if get {
      try check(sheaf_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
    } else {
      try check(sheaf_curl_easy_setopt_long(easy, CURLOPT_POST, 1))
      try check(
        sheaf_curl_easy_setopt_off(
          easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.utf8.count)))
      try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, request.body))
    }
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_HTTPHEADER, headerList))
    try check(
      sheaf_curl_easy_setopt_long(
        easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(connectTimeout * 1000))))
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer))
    try check(sheaf_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_USERAGENT, "sheaf/\(SheafVersion.current)"))
    // Only HTTP: a base URL of file://, gopher:// or the like is refused by libcurl.
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
    try check(sheaf_curl_easy_setopt_write(easy, CURLOPT_WRITEFUNCTION, curlBodyCallback))
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me))
    try check(sheaf_curl_easy_setopt_write(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
    try check(sheaf_curl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me))
  }

  deinit {
    curl_easy_cleanup(easy)
    curl_slist_free_all(headerList)
    errorBuffer.deallocate()
  }

  /// The HTTP status of the response (0 before one arrived).
  var status: Int {
    var code = 0
    _ = sheaf_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
    return code
  }

  /// libcurl's detailed message for the last error, or its generic one.
  func message(for code: CURLcode) -> String {
    let detail = String(cString: errorBuffer)
    return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
  }

  /// The value of a response header (case-insensitive name).
  func header(_ name: String) -> String? {
    let prefix = name.lowercased() + ":"
    for line in responseHeaders.reversed() where line.lowercased().hasPrefix(prefix) {
      return line.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return nil
  }

  fileprivate func receiveHeader(_ line: String) {
    onActivity()
    // A new status line starts a new response (after 100 Continue or a redirect).
    if line.hasPrefix("HTTP/") { responseHeaders.removeAll() }
    let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
    if !trimmed.isEmpty { responseHeaders.append(trimmed) }
  }

  fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
    onActivity()
    return onBody(bytes)
  }
}

private let curlBodyCallback:
  @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, owner in
    guard let owner else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(owner).takeUnretainedValue()
    let total = size * count
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
  }

private let curlHeaderCallback:
  @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, owner in
    guard let owner else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(owner).takeUnretainedValue()
    let total = size * count
    transfer.receiveHeader(
      String(decoding: UnsafeRawBufferPointer(start: data, count: total), as: UTF8.self))
    return total
  }

/// libcurl's multi interface: many transfers in one thread.
///
/// It owns the multi handle and keeps
/// the transfers it runs alive until they are removed.
final class CurlMulti {
  private let multi: UnsafeMutableRawPointer
  private var running: [UnsafeMutableRawPointer: CurlTransfer] = [:]

  /// A multi handle (libcurl is initialised once per process).
  /// - Throws: `CurlError` when libcurl cannot start.
  init() throws {
    _ = CurlMulti.globalInit
    guard let multi = curl_multi_init() else {
      throw CurlError(code: CURLE_FAILED_INIT, message: "curl_multi_init failed")
    }
    self.multi = multi
  }

  private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  deinit {
    for easy in running.keys { curl_multi_remove_handle(multi, easy) }
    curl_multi_cleanup(multi)
  }

  /// How many transfers are running.
  var count: Int { running.count }

  /// Starts a transfer.
  /// - Throws: `CurlError` when libcurl refuses it.
  func add(_ transfer: CurlTransfer) throws {
    try check(curl_multi_add_handle(multi, transfer.easy))
    running[transfer.easy] = transfer
  }

  /// Stops a transfer (finished or not).
  func remove(_ transfer: CurlTransfer) {
    curl_multi_remove_handle(multi, transfer.easy)
    running[transfer.easy] = nil
  }

  /// Moves every transfer along as far as it can without waiting.
  /// - Throws: `CurlError` on a multi-handle failure.
  func perform() throws {
    var stillRunning: Int32 = 0
    try check(curl_multi_perform(multi, &stillRunning))
  }

  /// The transfers that have finished since the last call, with their result; each stays
  /// registered until `remove` is called.
  func finished() -> [(CurlTransfer, CURLcode)] {
    var done: [(CurlTransfer, CURLcode)] = []
    var left: Int32 = 0
    while let message = curl_multi_info_read(multi, &left) {
      guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
        let transfer = running[easy]
      else { continue }
      done.append((transfer, message.pointee.data.result))
    }
    return done
  }

  /// Waits up to `timeout` seconds for network activity or for one of `fds` to be readable.
  /// - Throws: `CurlError` on a multi-handle failure.
  func poll(fds: [Int32], timeout: Double) throws {
    var waits = fds.map { curl_waitfd(fd: $0, events: Int16(CURL_WAIT_POLLIN), revents: 0) }
    var ready: Int32 = 0
    let milliseconds = Int32(max(0, min(timeout, 3600)) * 1000)
    try waits.withUnsafeMutableBufferPointer { buffer in
      try check(
        curl_multi_poll(multi, buffer.baseAddress, UInt32(buffer.count), milliseconds, &ready))
    }
  }
}

#!/usr/bin/env python3
"""A stub LLM server for sheaf's tests and benchmarks: it speaks the OpenAI Chat Completions
stream, Anthropic's Messages stream and Ollama's /api/chat, on 127.0.0.1 only.

Start it with `stub_server.py [--port 0]`; it prints `PORT <n>` once it listens. Faults and pacing
are chosen per request by a path prefix, so every test uses its own base URL:

  http://127.0.0.1:PORT/s/ttfb=0.5,tps=200,words=100/v1      (openai:    .../v1/chat/completions)
  http://127.0.0.1:PORT/s/fail=429:2,retry_after=1           (anthropic: .../v1/messages)
  http://127.0.0.1:PORT/s/cut=5:1                            (ollama:    .../api/chat)

Knobs (comma-separated):
  ttfb=S          seconds before the response starts
  tps=N           tokens (words) per second; 0 sends them all at once
  words=N         reply length in words (default 12)
  bytewise=1      send the stream one byte per HTTP chunk (framing split at every byte)
  fail=CODE[:N]   answer CODE (with the provider's error body) to the first N attempts of each
                  distinct request (every attempt when N is left out)
  retry_after=S   with fail: a Retry-After header in seconds
  retry_after_ms=MS   with fail: a retry-after-ms header
  retry_date=S    with fail: Retry-After as an HTTP date S seconds ahead
  cut=N[:K]       close the connection after N tokens, without ending the stream (first K attempts)
  stall=S[:K]     stop sending for S seconds half way through (first K attempts)
  think=1         put a <think> block in the answer text, split across chunks
  reasoning=1     send thinking in the provider's own field (reasoning_content, thinking deltas)
  stream_error=1  an error event after a few tokens (anthropic: overloaded_error)
  empty=1         an answer with no text
  model_missing=1 answer 404 "model not found" (ollama style)
  failfor=TEXT:CODE   answer CODE to every request whose last user message contains TEXT
                  (URL-escaped: %20 for a space, %22 for a quote), so that one section of a run always fails (with
                  failfor_times=N only its first N attempts; retry_after applies)
  first_words=N   answer N words to a request with no assistant turn (a first ask), `words` to a
                  re-ask (one that carries the previous answer)
  honor_max=1     stop at the request's max_tokens (max_completion_tokens, num_predict) with the
                  provider's length stop reason (length, max_tokens)
  whole=1         answer with one JSON body (application/json), as a non-streamed request gets
  cached=N        report N of the prompt's tokens as read from the prompt cache (OpenAI
                  prompt_tokens_details.cached_tokens; Anthropic cache_read_input_tokens)
  written=N       (Anthropic) report N tokens as written to the prompt cache (cache_creation_input_tokens)
  limit=N[:W]     allow N requests a window of W seconds (default 60; fixed windows from the first
                  request), send the provider's rate-limit headers with every answer (OpenAI:
                  x-ratelimit-limit-, -remaining- and -reset-requests; Anthropic: anthropic-ratelimit-
                  requests-limit, -remaining and -reset), and answer 429 to a request over the limit
                  (counted in /stats as "limited")
  models=A+B      the models GET .../models (OpenAI, Anthropic) and /api/tags (Ollama) list (default: stub)
  key=K           GET .../models answers 401 to a request without key K
  refuse=TYPES     answer 400 naming response_format when the request asks for one of TYPES
                  (json_schema, json_object, joined by +), as servers without structured output do
  json=1          answer a JSON array of `count` objects ({"n", "word"}), a token at a time
  same=1          the same words for every request (answers that repeat each other)
  echo=1          answer with the words of the system prompt, over and over (a weak model)
  prompt_tokens=N report N input tokens whatever the prompt (a chat template that drops it)
  credit=1        answer 400 "Your credit balance is too low…" (Anthropic's words)
  slowfor=TEXT:S  wait S seconds before answering a request whose last user message contains TEXT
  echo_key=CODE   answer CODE with an error message that quotes the key the request carried
                  (as some providers do for a bad key)
  hostile=KIND    a 200 answer that is not a usable stream: html (a web page), empty (no body),
                  done_only (only `data: [DONE]`), no_data (SSE comments and event lines, no data),
                  bigline:MB (one data line of MB megabytes, never ended), bigheader:KB (a response
                  header of KB kilobytes)

POST /knobs with a body of knobs (`failfor=Appendix:500`, or empty to clear) sets knobs for every
request from then on, under the URL's own: a test can inject a fault without changing the base
URL (which is part of what a section is built from).

POST /script with a JSON list of rules, [{"match": TEXT, "replies": [TEXT, ...]}], answers the
n-th request whose first user message contains a rule's `match` with its n-th reply (the last one
again after that), instead of stub words: a test scripts what a model writes (a plan that breaks a
rule, then one that keeps it). An empty list clears them.

Batch APIs (answers made when the batch is created, with the URL's knobs and whole=1; a `failfor`
knob gives per-item errors):
  OpenAI     POST .../files (multipart, purpose=batch), POST .../batches, GET .../batches/ID,
             POST .../batches/ID/cancel, GET .../files/ID/content (the output and error files)
  Anthropic  POST .../v1/messages/batches, GET .../v1/messages/batches/ID, GET .../ID/results,
             POST .../ID/cancel
  batch_delay=S   seconds from a batch's creation until it is done (default 0)
  no_batch=1      no batch API (404), as most OpenAI-compatible local servers
  batch_create_delay=S   (OpenAI) answer a batch's creation S seconds after making it
GET .../batches lists the OpenAI batches, newest first.
/stats adds "batches" (provider, id, requests of each batch created), "batch_items" and
"batch_repeats" (items whose custom_id an earlier batch already had).

GET /stats gives {"requests", "by_request", "max_in_flight", "in_flight", "auth", "spans"
(start, end and the first line of the last user message of each request), "bodies" (the last
500 request bodies, parsed)}; POST /reset
clears them. Requests are counted per distinct request (model + messages), so a test can see that
a finished section is never asked for twice.
"""
import argparse
import asyncio
import email.utils
import hashlib
import json
import math
import re
import sys
import time
import urllib.parse

WORDS = ("the quick survey shows dispatchers lose an hour each day to replanning jobs when a "
         "technician runs late so the board must update itself and tell the customer").split()

GLOBAL_KNOBS = {}

SCRIPT = []

STATE = {"requests": 0, "by_request": {}, "max_in_flight": 0, "in_flight": 0, "auth": [], "spans": [],
         "bodies": [], "limited": 0, "batches": [], "batch_items": 0, "batch_repeats": 0}

# The batches and files of the batch APIs, by id; the custom_ids every batch had.
BATCHES = {}
FILES = {}
CUSTOM_IDS = set()

LIMIT = {}


def words_for(seed, count):
    """`count` words, a sequence of its own for each seed (two prompts get different answers)."""
    state = seed or 1
    out = []
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(WORDS[(state >> 33) % len(WORDS)])
    return out


def reset():
    STATE.update(requests=0, by_request={}, max_in_flight=0, in_flight=0, auth=[], spans=[], bodies=[], limited=0,
                 batches=[], batch_items=0, batch_repeats=0)
    LIMIT.clear()
    BATCHES.clear()
    FILES.clear()
    CUSTOM_IDS.clear()


def parse_knobs(path):
    knobs = {}
    if path.startswith("/s/"):
        spec, _, rest = path[3:].partition("/")
        path = "/" + rest
        for item in filter(None, spec.split(",")):
            key, _, value = item.partition("=")
            knobs[key] = value
    return knobs, path


def first_n(value):
    """'429:2' -> ('429', 2); '429' -> ('429', None)."""
    head, _, count = value.partition(":")
    return head, (int(count) if count else None)


class Response:
    def __init__(self, writer, bytewise):
        self.writer = writer
        self.bytewise = bytewise

    async def start(self, status, headers):
        lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        pieces = [data[i:i + 1] for i in range(len(data))] if self.bytewise else [data]
        for piece in pieces:
            self.writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await self.writer.drain()

    async def end(self):
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()


def error_body(kind, code, message):
    if kind == "anthropic":
        types = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error",
                 400: "invalid_request_error", 500: "api_error"}
        return {"type": "error", "error": {"type": types.get(code, "api_error"), "message": message}}
    if kind == "ollama":
        return {"error": message}
    codes = {429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}
    return {"error": {"message": message, "type": "invalid_request_error" if code < 500 else "server_error",
                      "param": None, "code": codes.get(code)}}


MESSAGES = {429: "Rate limit reached for requests", 500: "The server had an error while processing your request",
            529: "Overloaded", 401: "Incorrect API key provided", 400: "Invalid value for 'temperature'",
            503: "Service unavailable", 408: "Request timeout"}


def rate_limit(knobs, kind):
    """The `limit` knob: (200 or 429, the rate-limit headers of both providers), or None."""
    if "limit" not in knobs:
        return None
    allowed, _, window = knobs["limit"].partition(":")
    allowed, window = int(allowed), float(window or 60)
    now = time.time()
    if LIMIT.get("start") is None or now >= LIMIT["start"] + window:
        LIMIT.update(start=now, count=0)
    reset = LIMIT["start"] + window - now
    over = LIMIT["count"] >= allowed
    if not over:
        LIMIT["count"] += 1
    remaining = max(0, allowed - LIMIT["count"])
    # Rounded up to the millisecond: never a reset before the real one.
    ends = math.ceil((now + reset) * 1000) / 1000
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ends)) + f".{int(round((ends % 1) * 1000)) % 1000:03d}Z"
    if kind == "openai":
        headers = [("x-ratelimit-limit-requests", str(allowed)), ("x-ratelimit-remaining-requests", str(remaining)),
                   ("x-ratelimit-reset-requests", f"{math.ceil(reset * 1000) / 1000:.3f}s")]
    elif kind == "anthropic":
        headers = [("anthropic-ratelimit-requests-limit", str(allowed)),
                   ("anthropic-ratelimit-requests-remaining", str(remaining)),
                   ("anthropic-ratelimit-requests-reset", at)]
    else:
        headers = []
    if over:
        headers.append(("Retry-After", str(max(1, int(reset + 0.999)))))
    return (429 if over else 200, headers)


async def respond(kind, knobs, body, headers, writer):
    model = body.get("model", "stub")
    messages = body.get("messages", [])
    key = hashlib.sha256(json.dumps([kind, model, messages, body.get("system")], sort_keys=True).encode()).hexdigest()[:16]
    attempt = STATE["by_request"].get(key, 0) + 1
    STATE["by_request"][key] = attempt
    auth = headers.get("authorization") or headers.get("x-api-key")
    STATE["auth"].append(auth)

    limited = rate_limit(knobs, kind)
    if limited is not None and limited[0] == 429:
        STATE["limited"] += 1
        payload = json.dumps(error_body(kind, 429, MESSAGES[429])).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in limited[1])
        writer.write((f"HTTP/1.1 429 Error\r\nContent-Type: application/json\r\n{extra}"
                      f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
        await writer.drain()
        return True
    limit_headers = limited[1] if limited else []

    ttfb = float(knobs.get("ttfb", 0))
    if ttfb:
        await asyncio.sleep(ttfb)

    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    if "slowfor" in knobs:
        text, _, seconds = knobs["slowfor"].rpartition(":")
        if urllib.parse.unquote(text) in last.split("\n", 1)[0]:
            await asyncio.sleep(float(seconds))
    if "failfor" in knobs:
        text, _, code = knobs["failfor"].rpartition(":")
        times = int(knobs.get("failfor_times", 0)) or None
        first_user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
        if urllib.parse.unquote(text) in first_user.split("\n", 1)[0] and (times is None or attempt <= times):
            payload = json.dumps(error_body(kind, int(code), MESSAGES.get(int(code), f"error {code}"))).encode()
            extra = f"Retry-After: {knobs['retry_after']}\r\n" if "retry_after" in knobs else ""
            writer.write((f"HTTP/1.1 {code} Error\r\nContent-Type: application/json\r\n{extra}"
                          f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
            await writer.drain()
            return True
    if "refuse" in knobs:
        asked = (body.get("response_format") or {}).get("type")
        if asked and asked in knobs["refuse"].split("+"):
            payload = json.dumps(error_body(kind, 400, f"Invalid parameter: 'response_format' of type '{asked}' is not supported with this model.")).encode()
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
            await writer.drain()
            return True
    if "credit" in knobs:
        payload = json.dumps(error_body(kind, 400, "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.")).encode()
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
        await writer.drain()
        return True
    if "echo_key" in knobs:
        code = int(knobs["echo_key"])
        given = (auth or "").replace("Bearer ", "")
        payload = json.dumps(error_body(kind, code, f"Incorrect API key provided: {given}. You can find your API key at https://example.invalid/keys")).encode()
        writer.write(b"HTTP/1.1 %d Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (code, len(payload), payload))
        await writer.drain()
        return True
    if "hostile" in knobs:
        return await hostile(knobs["hostile"], writer)
    if "model_missing" in knobs:
        payload = json.dumps({"error": f"model '{model}' not found, try pulling it first"}).encode()
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
        await writer.drain()
        return True
    if "fail" in knobs:
        code, count = first_n(knobs["fail"])
        code = int(code)
        if count is None or attempt <= count:
            payload = json.dumps(error_body(kind, code, MESSAGES.get(code, f"error {code}"))).encode()
            extra = ""
            if "retry_after" in knobs:
                extra += f"Retry-After: {knobs['retry_after']}\r\n"
            if "retry_after_ms" in knobs:
                extra += f"retry-after-ms: {knobs['retry_after_ms']}\r\n"
            if "retry_date" in knobs:
                extra += f"Retry-After: {email.utils.formatdate(time.time() + float(knobs['retry_date']), usegmt=True)}\r\n"
            writer.write((f"HTTP/1.1 {code} Error\r\nContent-Type: application/json\r\n{extra}"
                          f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
            await writer.drain()
            return True

    count = int(knobs.get("words", 12))
    if "first_words" in knobs and not any(m.get("role") == "assistant" for m in messages):
        count = int(knobs["first_words"])
    stop_reason = {"openai": "stop", "anthropic": "end_turn", "ollama": "stop"}[kind]
    if "honor_max" in knobs:
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or (body.get("options") or {}).get("num_predict")
        if limit is not None and count > int(limit):
            count = int(limit)
            stop_reason = {"openai": "length", "anthropic": "max_tokens", "ollama": "length"}[kind]
    last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    # A continuation (an assistant turn before the last user turn) goes on with other words, as a
    # model that continues does: the seed takes in what was answered so far.
    answered = "".join(m.get("content", "") for m in messages if m.get("role") == "assistant")
    seed = 0 if "same" in knobs else int(hashlib.sha256((last_user + answered).encode()).hexdigest()[:8], 16)
    tokens = [] if "empty" in knobs else [word + " " for word in words_for(seed, count)]
    if "json" in knobs:
        # A JSON array of objects, a token at a time: `[`, `{"n": 1, "word": "the"}`, `, ` …
        tokens = ["["] + [piece for i, w in enumerate(words_for(seed, count))
                          for piece in ([", "] if i else []) + ['{"n": ', str(i + 1), ', "word": "', w, '"}']] + ["]"]
    if "echo" in knobs:
        # A weak model that answers with its own system prompt, again and again.
        system = body.get("system") if isinstance(body.get("system"), str) else next(
            (m.get("content", "") for m in messages if m.get("role") == "system"), "")
        said = (system or "echo").split()
        tokens = [said[i % len(said)] + " " for i in range(count)]
    first_user_message = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    for rule in SCRIPT:
        if rule.get("match", "\0") in first_user_message:
            replies = rule.get("replies") or [""]
            index = rule.get("_n", 0)
            rule["_n"] = index + 1
            tokens = re.findall(r"\S+\s*|\s+", replies[min(index, len(replies) - 1)])
            break
    if "think" in knobs and tokens:
        tokens = ["<thi", "nk>planning the ", "answer</th", "ink>"] + tokens
    tps = float(knobs.get("tps", 0))
    cut, cut_k = first_n(knobs["cut"]) if "cut" in knobs else (None, None)
    stall, stall_k = first_n(knobs["stall"]) if "stall" in knobs else (None, None)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    if "prompt_tokens" in knobs:
        prompt_tokens = int(knobs["prompt_tokens"])
    if "whole" in knobs:
        return await whole(kind, model, tokens, prompt_tokens, stop_reason, "reasoning" in knobs, writer)

    content_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
    response = Response(writer, "bytewise" in knobs)
    await response.start(200, [("Content-Type", content_type), ("Transfer-Encoding", "chunked")] + limit_headers)

    def sse(event, data):
        return (f"event: {event}\n" if event else "") + "data: " + json.dumps(data) + "\n\n"

    if kind == "openai":
        await response.chunk(sse(None, {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": model,
                                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}))
        if "reasoning" in knobs:
            await response.chunk(sse(None, {"choices": [{"index": 0, "delta": {"reasoning_content": "thinking it through"}, "finish_reason": None}]}))
    elif kind == "anthropic":
        await response.chunk(sse("message_start", {"type": "message_start", "message": {"id": "msg_stub", "type": "message", "role": "assistant",
                                 "content": [], "model": model, "stop_reason": None, "usage": anthropic_usage(prompt_tokens, 1, knobs)}}))
        if "reasoning" in knobs:
            await response.chunk(sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}))
            await response.chunk(sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "thinking it through"}}))
            await response.chunk(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        await response.chunk(sse("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}))
        await response.chunk(sse("ping", {"type": "ping"}))
    elif kind == "ollama" and "reasoning" in knobs:
        await response.chunk(json.dumps({"model": model, "message": {"role": "assistant", "content": "", "thinking": "thinking it through"}, "done": False}) + "\n")

    for index, token in enumerate(tokens):
        if cut is not None and index == int(cut) and (cut_k is None or attempt <= cut_k):
            writer.close()  # no terminating chunk: the body stops mid-stream
            return False
        if stall is not None and index == len(tokens) // 2 and (stall_k is None or attempt <= stall_k):
            await asyncio.sleep(float(stall))
        if "stream_error" in knobs and index == 3:
            if kind == "anthropic":
                await response.chunk(sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
            elif kind == "openai":
                await response.chunk(sse(None, {"error": {"message": "The server had an error while processing your request", "type": "server_error"}}))
            else:
                await response.chunk(json.dumps({"error": "an error was encountered while running the model"}) + "\n")
            await response.end()
            return True
        if kind == "openai":
            await response.chunk(sse(None, {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": model,
                                            "choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]}))
        elif kind == "anthropic":
            await response.chunk(sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": token}}))
        else:
            await response.chunk(json.dumps({"model": model, "created_at": "2026-11-21T08:00:00Z", "message": {"role": "assistant", "content": token}, "done": False}) + "\n")
        if tps > 0:
            await asyncio.sleep(1 / tps)

    completion = len(tokens)
    if kind == "openai":
        await response.chunk(sse(None, {"id": "chatcmpl-stub", "choices": [{"index": 0, "delta": {}, "finish_reason": stop_reason}]}))
        await response.chunk(sse(None, {"id": "chatcmpl-stub", "choices": [], "usage": openai_usage(prompt_tokens, completion, knobs)}))
        await response.chunk("data: [DONE]\n\n")
    elif kind == "anthropic":
        await response.chunk(sse("content_block_stop", {"type": "content_block_stop", "index": 1}))
        await response.chunk(sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": completion}}))
        await response.chunk(sse("message_stop", {"type": "message_stop"}))
    else:
        await response.chunk(json.dumps({"model": model, "created_at": "2026-11-21T08:00:01Z", "message": {"role": "assistant", "content": ""},
                                         "done": True, "done_reason": stop_reason, "prompt_eval_count": prompt_tokens, "eval_count": completion}) + "\n")
    await response.end()
    return True


def openai_usage(prompt, completion, knobs):
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if "cached" in knobs:
        usage["prompt_tokens_details"] = {"cached_tokens": min(prompt, int(knobs["cached"]))}
    return usage


def anthropic_usage(prompt, output, knobs):
    """Anthropic counts cache reads apart from input_tokens."""
    read = min(prompt, int(knobs.get("cached", 0)))
    usage = {"input_tokens": prompt - read, "output_tokens": output}
    if "cached" in knobs or "written" in knobs:
        usage.update(cache_read_input_tokens=read, cache_creation_input_tokens=int(knobs.get("written", 0)))
    return usage


async def whole(kind, model, tokens, prompt_tokens, stop_reason, reasoning, writer):
    """One JSON body, the provider's non-streamed answer."""
    text = "".join(tokens)
    if kind == "openai":
        message = {"role": "assistant", "content": text}
        if reasoning:
            message["reasoning_content"] = "thinking it through"
        body = {"id": "chatcmpl-stub", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": stop_reason}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens), "total_tokens": prompt_tokens + len(tokens)}}
    elif kind == "anthropic":
        content = ([{"type": "thinking", "thinking": "thinking it through", "signature": "x"}] if reasoning else []) + [{"type": "text", "text": text}]
        body = {"id": "msg_stub", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop_reason, "stop_sequence": None, "usage": {"input_tokens": prompt_tokens, "output_tokens": len(tokens)}}
    else:
        message = {"role": "assistant", "content": text}
        if reasoning:
            message["thinking"] = "thinking it through"
        body = {"model": model, "created_at": "2026-11-21T08:00:01Z", "message": message, "done": True,
                "done_reason": stop_reason, "prompt_eval_count": prompt_tokens, "eval_count": len(tokens)}
    payload = json.dumps(body).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    await writer.drain()
    return True


class Capture:
    """A writer that keeps what `respond` writes, for a batch item's answer."""
    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data

    async def drain(self):
        pass

    def close(self):
        pass


async def batch_answer(kind, knobs, body, headers):
    """(status, body object) of one batch item: the answer `respond` gives it whole."""
    item_knobs = {k: v for k, v in knobs.items() if k not in ("limit", "ttfb", "tps", "slowfor", "stall", "cut", "bytewise")}
    item_knobs["whole"] = "1"
    capture = Capture()
    await respond(kind, item_knobs, body, headers, capture)
    head, _, payload = bytes(capture.data).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(payload or b"{}")


def send_json(writer, status, payload):
    data = json.dumps(payload).encode()
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (status, b"OK" if status < 300 else b"Error", len(data), data))


def multipart_file(raw, content_type):
    """The `file` part of a multipart/form-data body, and the `purpose` field."""
    boundary = content_type.partition("boundary=")[2].strip().strip('"').encode()
    fields = {}
    for part in raw.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        match = re.search(rb'name="([^"]+)"', head)
        if match:
            fields[match.group(1).decode()] = content[:-2] if content.endswith(b"\r\n") else content
    return fields.get("file", b""), fields.get("purpose", b"").decode()


def note_batch(provider, batch_id, custom_ids):
    STATE["batches"].append({"provider": provider, "id": batch_id, "requests": len(custom_ids)})
    STATE["batch_items"] += len(custom_ids)
    STATE["batch_repeats"] += sum(1 for c in custom_ids if c in CUSTOM_IDS)
    CUSTOM_IDS.update(custom_ids)


def batch_done(batch):
    return batch.get("cancelled") or time.time() >= batch["ready_at"]


async def handle_batches(method, route, knobs, headers, raw, writer):
    """The batch APIs; False when the route is not one of theirs."""
    if "no_batch" in knobs:
        return False
    delay = float(knobs.get("batch_delay", 0))
    # OpenAI: files and batches.
    match = re.search(r"/files/([^/]+)/content$", route)
    if method == "GET" and match:
        data = FILES.get(match.group(1))
        if data is None:
            send_json(writer, 404, error_body("openai", 404, "No such File object"))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        return True
    if method == "POST" and route.endswith("/files"):
        content, purpose = multipart_file(raw, headers.get("content-type", ""))
        file_id = f"file-stub{len(FILES) + 1}"
        FILES[file_id] = content
        send_json(writer, 200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                                "filename": "batch.jsonl", "purpose": purpose})
        return True
    if method == "POST" and route.endswith("/batches") and not route.endswith("/messages/batches"):
        request = json.loads(raw or b"{}")
        lines = [json.loads(line) for line in FILES.get(request.get("input_file_id"), b"").splitlines() if line.strip()]
        batch_id = f"batch_stub{len(BATCHES) + 1}"
        output, errors = [], []
        models = {line.get("body", {}).get("model") for line in lines}
        if len(models) > 1:
            # As OpenAI's: one model a batch file, else the whole batch fails validation.
            note_batch("openai", batch_id, [line.get("custom_id") for line in lines])
            BATCHES[batch_id] = {"provider": "openai", "ready_at": time.time(), "output": [], "errors": [],
                                 "input_file_id": request.get("input_file_id"), "endpoint": request.get("endpoint"),
                                 "failed": "The batch input file contains requests for more than one model."}
            send_json(writer, 200, openai_batch(batch_id))
            return True
        for n, line in enumerate(lines):
            status, body = await batch_answer("openai", knobs, line.get("body", {}), headers)
            entry = {"id": f"batch_req_{n}", "custom_id": line.get("custom_id"),
                     "response": {"status_code": status, "request_id": f"req_{n}", "body": body}, "error": None}
            (output if status == 200 else errors).append(entry)
        note_batch("openai", batch_id, [line.get("custom_id") for line in lines])
        BATCHES[batch_id] = {"provider": "openai", "ready_at": time.time() + delay, "output": output, "errors": errors,
                             "input_file_id": request.get("input_file_id"), "endpoint": request.get("endpoint")}
        if "batch_create_delay" in knobs:
            # Created, but the answer comes late: a client killed meanwhile never learns the id.
            await asyncio.sleep(float(knobs["batch_create_delay"]))
        send_json(writer, 200, openai_batch(batch_id))
        return True
    if method == "GET" and route.split("?")[0].endswith("/batches") and "/messages/batches" not in route:
        listed = [openai_batch(i) for i in reversed(list(BATCHES)) if BATCHES[i]["provider"] == "openai"]
        send_json(writer, 200, {"object": "list", "data": listed[:100], "has_more": len(listed) > 100})
        return True
    match = re.search(r"/batches/([^/]+)(/cancel)?$", route)
    if match and "/messages/batches" not in route and match.group(1) in BATCHES:
        batch = BATCHES[match.group(1)]
        if match.group(2) and method == "POST" and not batch_done(batch):
            batch["cancelled"] = True
        send_json(writer, 200, openai_batch(match.group(1)))
        return True
    # Anthropic: message batches.
    match = re.search(r"/messages/batches(?:/([^/]+))?(/results|/cancel)?$", route)
    if not match:
        return False
    if method == "POST" and match.group(1) is None:
        request = json.loads(raw or b"{}")
        batch_id = f"msgbatch_stub{len(BATCHES) + 1}"
        results = []
        for item in request.get("requests", []):
            status, body = await batch_answer("anthropic", knobs, item.get("params", {}), headers)
            if status == 200:
                result = {"type": "succeeded", "message": body}
            else:
                result = {"type": "errored", "error": body}
            results.append({"custom_id": item.get("custom_id"), "result": result})
        note_batch("anthropic", batch_id, [item.get("custom_id") for item in request.get("requests", [])])
        base = route[: route.rindex("/messages/batches")]
        BATCHES[batch_id] = {"provider": "anthropic", "ready_at": time.time() + delay, "results": results,
                             "results_url": f"http://{headers.get('host', '127.0.0.1')}" + base + f"/messages/batches/{batch_id}/results"}
        send_json(writer, 200, anthropic_batch(batch_id))
        return True
    batch = BATCHES.get(match.group(1) or "")
    if batch is None:
        send_json(writer, 404, error_body("anthropic", 404, "batch not found"))
        return True
    if match.group(2) == "/cancel" and method == "POST":
        if not batch_done(batch):
            batch["cancelled"] = True
        send_json(writer, 200, anthropic_batch(match.group(1)))
        return True
    if match.group(2) == "/results":
        results = batch["results"]
        if batch.get("cancelled"):
            results = [{"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in results]
        data = "".join(json.dumps(r) + "\n" for r in results).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/binary\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        return True
    send_json(writer, 200, anthropic_batch(match.group(1)))
    return True


def openai_batch(batch_id):
    batch = BATCHES[batch_id]
    total = len(batch["output"]) + len(batch["errors"])
    done = batch_done(batch)
    status = ("cancelled" if batch.get("cancelled") else "failed" if batch.get("failed") else "completed") if done else "in_progress"
    out = {"id": batch_id, "object": "batch", "endpoint": batch["endpoint"], "input_file_id": batch["input_file_id"],
           "completion_window": "24h", "status": status, "output_file_id": None, "error_file_id": None,
           "request_counts": {"total": total, "completed": len(batch["output"]) if status == "completed" else 0,
                              "failed": len(batch["errors"]) if status == "completed" else 0}}
    if status == "failed":
        out["errors"] = {"object": "list", "data": [{"code": "mismatched_model", "message": batch["failed"], "line": None}]}
    if status == "completed":
        for name, entries in (("output_file_id", batch["output"]), ("error_file_id", batch["errors"])):
            if entries:
                file_id = f"file-{batch_id}-{name[:-8]}"
                FILES[file_id] = "".join(json.dumps(e) + "\n" for e in entries).encode()
                out[name] = file_id
    return out


def anthropic_batch(batch_id):
    batch = BATCHES[batch_id]
    done = batch_done(batch)
    results = batch["results"]
    counts = {"processing": 0 if done else len(results), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if done:
        for r in results:
            kind = "canceled" if batch.get("cancelled") else r["result"]["type"]
            counts[kind] += 1
    return {"id": batch_id, "type": "message_batch", "processing_status": "ended" if done else "in_progress",
            "request_counts": counts, "results_url": batch["results_url"] if done else None}


async def hostile(kind, writer):
    """Answers 200 with something that is not a usable stream."""
    name, _, size = kind.partition(":")
    if name == "html":
        page = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page))
    elif name == "empty":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 0\r\n\r\n")
    elif name in ("done_only", "no_data"):
        body = b"data: [DONE]\n\n" if name == "done_only" else b": keep-alive\n\nevent: ping\n\n: still here\n\n"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    elif name == "bigline":
        response = Response(writer, False)
        await response.start(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
        block = b"x" * (1 << 20)
        await response.chunk(b"data: ")
        try:
            for _ in range(int(size or 100)):
                await response.chunk(block)
            await response.end()
        except ConnectionError:
            return False
    elif name == "bigheader":
        filler = "a" * (int(size or 200) * 1024)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Filler: {filler}\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    return True


async def handle(reader, writer):
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            headers = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", 0))
            raw = await reader.readexactly(length) if length else b""
            if method == "GET" and path == "/stats":
                payload = json.dumps(STATE).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                await writer.drain()
                continue
            if method == "POST" and path == "/knobs":
                GLOBAL_KNOBS.clear()
                GLOBAL_KNOBS.update(parse_knobs("/s/" + raw.decode() + "/")[0])
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            if method == "POST" and path == "/script":
                SCRIPT.clear()
                SCRIPT.extend(json.loads(raw.decode() or "[]"))
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            if method == "POST" and path == "/reset":
                reset()
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            knobs, route = parse_knobs(path)
            knobs = {**GLOBAL_KNOBS, **knobs}
            if await handle_batches(method, route, knobs, headers, raw, writer):
                await writer.drain()
                continue
            if method == "GET" and (route.endswith("/models") or route.endswith("/api/tags")):
                # The models the server has (models=a+b; default: stub), as each provider lists
                # them; with key=K, a request without that key gets 401.
                names = (knobs.get("models") or "stub").split("+")
                wanted = knobs.get("key")
                given = headers.get("authorization", "").removeprefix("Bearer ") or headers.get("x-api-key", "")
                if wanted is not None and given != wanted:
                    payload = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}'
                    writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                else:
                    listed = ({"models": [{"name": n, "model": n} for n in names]} if route.endswith("/api/tags")
                              else {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
                    payload = json.dumps(listed).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                await writer.drain()
                continue
            if route.endswith("/chat/completions"):
                kind = "openai"
            elif route.endswith("/v1/messages"):
                kind = "anthropic"
            elif route.endswith("/api/chat"):
                kind = "ollama"
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            STATE["requests"] += 1
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            began = time.monotonic()
            body = json.loads(raw or b"{}")
            STATE["bodies"] = (STATE["bodies"] + [body])[-500:]
            last = next((m.get("content", "") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
            try:
                keep = await respond(kind, knobs, body, headers, writer)
            finally:
                STATE["in_flight"] -= 1
                STATE["spans"].append([began, time.monotonic(), last.split("\n", 1)[0][:120]])
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=900, help="stop after this long, whatever happens")
    args = parser.parse_args()
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=512)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Stop when the test that started us goes away (its pipe to our stdin closes).
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or (sys.stdin.buffer.read1(1) == b"" and stop.set_result(None)))
    loop.call_later(args.max_seconds, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())

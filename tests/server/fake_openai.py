#!/usr/bin/env python3
"""fake_openai.py - a real HTTP server on 127.0.0.1 that answers OpenAI-style chat completions
(streaming and not, OpenAI / DeepSeek / vLLM flavours) and misbehaves on command, for the tests.

Usage: fake_openai.py [--port P] [--log FILE]
  Prints the chosen port on stdout (one line) once it is listening; --port 0 (default) picks one.
  Every request is appended to FILE as one JSON line: path, model, headers (lower-case names), body.

Behaviour is chosen per request by the model name:  "scenario:TOK,TOK,..."  (any other model name
behaves normally). A token ending in "xN" (e.g. 429x2) misbehaves for the first N requests made with
that exact model string, then behaves; without xN it always misbehaves. Tokens:
  429 500 502 503 400 401 403 404   reply with that status and an OpenAI-style JSON error body
                                    (401 echoes the key it got, as some real servers do)
  ra=S        Retry-After: S seconds on 429/503        radate=S  the same as an HTTP date
  stall=S     streaming: send headers and one chunk, then nothing for S s; otherwise wait S s first
  drop        streaming: two content chunks, then close the connection mid-body
  trunc       streaming: a complete HTTP body with neither finish_reason nor [DONE]
  nodone      streaming: finish_reason but no [DONE]
  errchunk    streaming: one chunk, then data: {"error": {...}} and the end
  garbage     200, application/json, body that is not JSON
  html        200, text/html body
  ssegarbage  200, text/event-stream whose second event is not JSON
  errbody     200, application/json, {"error": {...}} instead of a completion
  ignorestream  answer with one JSON body even when stream=true was asked
  nousage     no usage anywhere          noreasontok  usage without completion_tokens_details
  deepseek    reasoning in reasoning_content (+ prompt_cache_hit_tokens)
  vllm        reasoning in "reasoning"   think  reasoning inline as <think>...</think> in content
  wrong       answer arithmetic wrongly (N + 1)
  split       write the stream in 3-byte pieces      crlf  SSE lines end in CRLF
  keepalive   SSE comment lines between events       slow=S  wait S s before the first chunk
  402 422     reply with that status (402: DeepSeek's "Insufficient Balance")
  after=K     with a status token: behave for the first K requests of this model, then misbehave
  until=M     with a status token: behave again from request M+1 on (the cause was "fixed")
  inflight=N  429 whenever more than N requests (of any model) are in flight, else behave
  length      finish_reason "length" (Anthropic: stop_reason "max_tokens")
  filter      finish_reason "content_filter" (Anthropic: stop_reason "refusal")
Anthropic Messages API on POST .../messages (x-api-key, anthropic-version): the same scenarios;
  {"thinking": {"type": "enabled", "budget_tokens": N}} adds a thinking block before the text;
  streamed as message_start, content_block_start/delta/stop (thinking_delta, signature_delta,
  text_delta), ping, message_delta (stop_reason, usage.output_tokens), message_stop.
  errevent  streaming: an `event: error` (overloaded_error) after the first text delta
Answers: "What is A + B?" / "A - B" / "A * B" -> "The answer is \\boxed{N}."; else "I do not know."
Usage (when sent): prompt_tokens = characters of system + user, completion_tokens = characters of
content + reasoning, reasoning_tokens = characters of reasoning, cached_tokens = 7.
"""
import email.utils
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}
LOG = None
IN_FLIGHT = [0]


def parse_scenario(model):
    """Returns {token: param} for the tokens active on this request."""
    if not isinstance(model, str) or not model.startswith("scenario:"):
        return {}
    with LOCK:
        n = COUNTS.get(model, 0) + 1
        COUNTS[model] = n
    active = {}
    for tok in model[len("scenario:"):].split(","):
        tok = tok.strip()
        m = re.fullmatch(r"(.+?)x(\d+)", tok)
        if m and not tok.startswith("ra"):
            if n > int(m.group(2)):
                continue
            tok = m.group(1)
        k, _, v = tok.partition("=")
        active[k] = v
    if ("after" in active and n <= int(active["after"])) or ("until" in active and n > int(active["until"])):
        for code in STATUS_MSG:
            active.pop(code, None)
    active["_n"] = n
    return active


STATUS_MSG = {"429": "Rate limit reached for requests", "500": "internal failure",
              "502": "bad gateway", "503": "overloaded", "400": "max_tokens is too large",
              "401": "Incorrect API key provided: %s", "402": "Insufficient Balance",
              "403": "forbidden model", "404": "The model does not exist",
              "422": "Unprocessable Entity: temperature must be at most 2"}


def answer_for(messages, wrong):
    user = ""
    for m in messages or []:
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            user = m["content"]
    m = re.search(r"What is (-?\d+) ([-+*]) (-?\d+)\?", user)
    if not m:
        return "I do not know."
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    n = a + b if op == "+" else a - b if op == "-" else a * b
    if wrong:
        n += 1
    return "The answer is \\boxed{%d}." % n


def finish_of(sc, anthropic=False):
    if "length" in sc:
        return "max_tokens" if anthropic else "length"
    if "filter" in sc:
        return "refusal" if anthropic else "content_filter"
    return "end_turn" if anthropic else "stop"


def prompt_chars(messages):
    return sum(len(m.get("content", "")) for m in messages or [] if isinstance(m, dict)
               and isinstance(m.get("content"), str))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    # -- plumbing
    def send_json(self, status, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data, sc):
        if "crlf" in sc:
            data = data.replace(b"\n", b"\r\n")
        pieces = [data[i:i + 3] for i in range(0, len(data), 3)] if "split" in sc else [data]
        for p in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.flush()

    def event(self, obj, sc):
        if "keepalive" in sc:
            self.chunk(b": keep-alive\n\n", sc)
        self.chunk(b"data: " + json.dumps(obj).encode() + b"\n\n", sc)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "no route " + self.path, "type": "not_found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        model = body.get("model") if isinstance(body, dict) else None
        with LOCK:
            IN_FLIGHT[0] += 1
            crowded = IN_FLIGHT[0]
        try:
            if LOG:
                rec = {"path": self.path, "model": model, "in_flight": crowded,
                       "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                with LOCK, open(LOG, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self.route(body, model, crowded)
        finally:
            with LOCK:
                IN_FLIGHT[0] -= 1

    def route(self, body, model, crowded):
        anthropic = self.path.rstrip("/").endswith("/messages")
        if not anthropic and not self.path.rstrip("/").endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "no route " + self.path}})
        if not isinstance(body, dict):
            return self.send_json(400, {"error": {"message": "body is not a JSON object"}})
        try:
            sc = parse_scenario(model)
            if "inflight" in sc and crowded > int(sc["inflight"]):
                sc["429"] = ""
            if anthropic:
                self.anthropic(body, sc)
            else:
                self.complete(body, sc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- behaviour
    def complete(self, body, sc):
        for code in STATUS_MSG:
            if code in sc:
                extra = []
                if "ra" in sc:
                    extra.append(("Retry-After", sc["ra"]))
                if "radate" in sc:
                    extra.append(("Retry-After", email.utils.formatdate(
                        time.time() + float(sc["radate"]), usegmt=True)))
                msg = STATUS_MSG[code]
                if code == "401":
                    msg = msg % self.headers.get("Authorization", "")
                return self.send_json(int(code), {"error": {"message": msg, "type": "fake", "code": code}},
                                      extra)
        if "html" in sc:
            data = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if "garbage" in sc:
            data = b"<html>\x01\x02 this is not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if "ssegarbage" in sc:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\ndata: <html>\x07oops\n\n', sc)
            self.wfile.write(b"0\r\n\r\n")
            return
        if "errbody" in sc:
            return self.send_json(200, {"error": {"message": "upstream model crashed"}})

        msgs = body.get("messages")
        content = answer_for(msgs, "wrong" in sc)
        reasoning = ""
        if "deepseek" in sc or "vllm" in sc or "think" in sc:
            reasoning = "Let me think. I add the numbers carefully."
        if "think" in sc:
            content = "<think>\n" + reasoning + "\n</think>\n\n" + content
            reasoning_field = None
        else:
            reasoning_field = "reasoning" if "vllm" in sc else "reasoning_content"
        usage = None
        if "nousage" not in sc:
            out_chars = len(content) + (len(reasoning) if reasoning_field else 0)
            usage = {"prompt_tokens": prompt_chars(msgs), "completion_tokens": out_chars,
                     "total_tokens": prompt_chars(msgs) + out_chars}
            if "noreasontok" not in sc:
                usage["completion_tokens_details"] = {"reasoning_tokens": len(reasoning) if reasoning_field else 0}
                usage["prompt_tokens_details"] = {"cached_tokens": 7}
            if "deepseek" in sc:
                usage["prompt_cache_hit_tokens"] = 7
        model = body.get("model")
        if "slow" in sc:
            time.sleep(float(sc["slow"]))
        if body.get("stream") and "ignorestream" not in sc:
            return self.stream(model, content, reasoning, reasoning_field, usage, body, sc)
        if "stall" in sc:
            time.sleep(float(sc["stall"] or 5))
        msg = {"role": "assistant", "content": content}
        if reasoning and reasoning_field:
            msg[reasoning_field] = reasoning
        resp = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "message": msg, "finish_reason": finish_of(sc)}]}
        if usage:
            resp["usage"] = usage
        self.send_json(200, resp)

    def stream(self, model, content, reasoning, reasoning_field, usage, body, sc):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}

        def ch(delta, finish=None, with_usage=False):
            c = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])
            if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
                c["usage"] = None
            return c

        self.event(ch({"role": "assistant", "content": ""}), sc)
        if "stall" in sc:
            time.sleep(float(sc["stall"] or 5))
        if reasoning and reasoning_field:
            for w in re.findall(r"\S+\s*", reasoning):
                self.event(ch({reasoning_field: w, "content": None}), sc)
        words = re.findall(r"\s*\S+", content) or [content]
        if "errchunk" in sc:
            self.event(ch({"content": words[0]}), sc)
            self.event({"error": {"message": "model overloaded mid-stream", "code": 503}}, sc)
            self.wfile.write(b"0\r\n\r\n")
            return
        for i, w in enumerate(words):
            self.event(ch({"content": w}), sc)
            if "drop" in sc and i == 1:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        if "trunc" not in sc:
            self.event(ch({}, finish_of(sc)), sc)
            if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
                self.event(dict(base, choices=[], usage=usage), sc)
            if "nodone" not in sc:
                self.chunk(b"data: [DONE]\n\n", sc)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def anthropic_methods():
    def anthropic(self, body, sc):
        for code in STATUS_MSG:
            if code in sc:
                kind = {"429": "rate_limit_error", "529": "overloaded_error", "401": "authentication_error",
                        "402": "billing_error", "403": "permission_error", "404": "not_found_error"}.get(
                            code, "api_error" if code.startswith("5") else "invalid_request_error")
                extra = [("Retry-After", sc["ra"])] if "ra" in sc else []
                return self.send_json(int(code), {"type": "error", "error": {"type": kind, "message": STATUS_MSG[code]
                                                                              .replace("%s", "")}}, extra)
        msgs = body.get("messages")
        system = body.get("system") if isinstance(body.get("system"), str) else ""
        content = answer_for(msgs, "wrong" in sc)
        thinking = ""
        th = body.get("thinking")
        # The current Claude models (5 family, Fable, Mythos) think adaptively: a budget or a
        # non-default sampling parameter is a 400 there, as the real API answers.
        if re.match(r"claude-(opus|sonnet|haiku)-[5-9]|claude-(fable|mythos)", str(body.get("model"))):
            bad = ("thinking.type 'enabled' is not supported for this model; use 'adaptive'"
                   if isinstance(th, dict) and th.get("type") == "enabled" else
                   next(("%s is not supported for this model" % k for k in ("temperature", "top_p", "top_k")
                         if k in body), None))
            if bad:
                return self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                        "message": bad}})
        if isinstance(th, dict) and th.get("type") in ("enabled", "adaptive"):
            thinking = "Let me think. I add the numbers carefully."
        usage_in = prompt_chars(msgs) + len(system)
        out_chars = len(content) + len(thinking)
        stop = finish_of(sc, True)
        model = body.get("model")
        if "slow" in sc:
            time.sleep(float(sc["slow"]))
        blocks = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": "c2lnbmF0dXJl"})
        blocks.append({"type": "text", "text": content})
        if not body.get("stream"):
            return self.send_json(200, {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                                        "content": blocks, "stop_reason": stop, "stop_sequence": None,
                                        "usage": {"input_tokens": usage_in, "output_tokens": out_chars,
                                                  "cache_read_input_tokens": 7}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def ev(name, obj):
            self.chunk(("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode(), sc)
        ev("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "usage": {"input_tokens": usage_in, "output_tokens": 1,
                                           "cache_read_input_tokens": 7}}})
        i = 0
        if thinking:
            ev("content_block_start", {"type": "content_block_start", "index": i,
                                       "content_block": {"type": "thinking", "thinking": ""}})
            for w in re.findall(r"\S+\s*", thinking):
                ev("content_block_delta", {"type": "content_block_delta", "index": i,
                                           "delta": {"type": "thinking_delta", "thinking": w}})
            ev("content_block_delta", {"type": "content_block_delta", "index": i,
                                       "delta": {"type": "signature_delta", "signature": "c2ln"}})
            ev("content_block_stop", {"type": "content_block_stop", "index": i})
            i += 1
        ev("ping", {"type": "ping"})
        ev("content_block_start", {"type": "content_block_start", "index": i,
                                   "content_block": {"type": "text", "text": ""}})
        for k, w in enumerate(re.findall(r"\s*\S+", content) or [content]):
            ev("content_block_delta", {"type": "content_block_delta", "index": i,
                                       "delta": {"type": "text_delta", "text": w}})
            if "errevent" in sc and k == 0:
                ev("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                self.wfile.write(b"0\r\n\r\n")
                return
        ev("content_block_stop", {"type": "content_block_stop", "index": i})
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                             "usage": {"output_tokens": out_chars}})
        ev("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
    return anthropic


Handler.anthropic = anthropic_methods()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gives up on a stream (as the tests make it) resets the connection: expected.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    global LOG
    port = 0
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--port":
            port = int(args.pop(0))
        elif a == "--log":
            LOG = args.pop(0)
        else:
            sys.exit("usage: fake_openai.py [--port P] [--log FILE]")
    srv = Server(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

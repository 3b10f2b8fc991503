#!/usr/bin/env python3
"""An agent's governed Mem0 calls through mem0-gov, with Python's standard library only.

Gets a token (a dev token, or Keycloak client credentials), then adds a memory, searches,
gets it by id and lists the user's memories through Envoy. Prints one JSON line per step.
Exit 0 = every call allowed; 2 = mem0-gov (or Mem0) refused one, with the stable reason;
1 = anything else (network, configuration).

Environment:
  MEM0_GOV_BASE_URL       Envoy's TLS listener, e.g. https://127.0.0.1:9000
  MEM0_GOV_CA_FILE        PEM CA to trust for it (dev stack: .state/envoy/certs/ca.crt); default: system CAs
  MEM0_GOV_USER_ID        the Mem0 user id, <tenant>:<local>, e.g. acme:alice
  MEM0_GOV_TOKEN          a bearer token (dev: TOKEN=$(bin/mem0-gov token --tenant acme --role agent-writer)), or:
  MEM0_GOV_TOKEN_URL      Keycloak: https://<host>/realms/mem0/protocol/openid-connect/token
  MEM0_GOV_CLIENT_ID, MEM0_GOV_CLIENT_SECRET   the agent's confidential client
  MEM0_GOV_MEMORY_TEXT    what to remember (default: a tea preference)
"""
import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Refused(Exception):
    """mem0-gov or Mem0 answered with an error status."""

    def __init__(self, step, status, body, headers):
        super().__init__(f"{step}: HTTP {status}")
        self.step, self.status, self.body, self.headers = step, status, body, headers


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None or value == "":
        sys.exit(f"set {name}")
    return value


class Client:
    def __init__(self):
        self.base = env("MEM0_GOV_BASE_URL").rstrip("/")
        ca = os.environ.get("MEM0_GOV_CA_FILE")
        # Certificate and host name are always verified; a private CA is added, never verification turned off.
        self.tls = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self.static_token = os.environ.get("MEM0_GOV_TOKEN")
        self.token = None

    def get_token(self, force=False):
        if self.static_token:
            return self.static_token
        if self.token and not force:
            return self.token
        # OAuth 2.0 client credentials (RFC 6749 §4.4), client_secret_basic as Keycloak accepts it.
        cid = urllib.parse.quote(env("MEM0_GOV_CLIENT_ID"), safe="")
        secret = urllib.parse.quote(env("MEM0_GOV_CLIENT_SECRET"), safe="")
        basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
        req = urllib.request.Request(
            env("MEM0_GOV_TOKEN_URL"),
            data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10, context=self.tls) as res:
            self.token = json.load(res)["access_token"]
        return self.token

    def call(self, step, method, path, body=None):
        """One request through Envoy. Retries once after 429 (Retry-After) and once after 401 with a fresh token."""
        retried_401 = retried_429 = False
        while True:
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(self.base + path, data=data, method=method)
            req.add_header("Authorization", f"Bearer {self.get_token()}")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=15, context=self.tls) as res:
                    return res.status, json.loads(res.read() or b"null"), res.headers
            except urllib.error.HTTPError as err:
                raw = err.read()
                if err.code == 429 and not retried_429:
                    retried_429 = True
                    time.sleep(min(float(err.headers.get("Retry-After", "1")), 5.0))
                    continue
                if err.code == 401 and not self.static_token and not retried_401:
                    retried_401 = True
                    self.get_token(force=True)
                    continue
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = {"error": raw.decode(errors="replace")[:200]}
                raise Refused(step, err.code, parsed, err.headers) from None


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    user_id = env("MEM0_GOV_USER_ID")
    text = os.environ.get("MEM0_GOV_MEMORY_TEXT") or "I prefer green tea in the afternoon"
    c = Client()
    try:
        status, added, h = c.call("add", "POST", "/memories", {"messages": [{"role": "user", "content": text}], "user_id": user_id, "metadata": {"source": "python-example"}})
        ids = [r["id"] for r in added.get("results", [])]
        emit(step="add", status=status, decision_id=h.get("x-mem0-gov-decision-id"), ids=ids)

        status, found, h = c.call("search", "POST", "/search", {"query": text, "filters": {"user_id": user_id}, "top_k": 5})
        emit(step="search", status=status, decision_id=h.get("x-mem0-gov-decision-id"), ids=[r["id"] for r in found.get("results", [])])

        if ids:
            status, memory, h = c.call("get", "GET", "/memories/" + urllib.parse.quote(ids[0]))
            emit(step="get", status=status, decision_id=h.get("x-mem0-gov-decision-id"), id=(memory or {}).get("id"), memory=(memory or {}).get("memory"))

        status, listed, h = c.call("list", "GET", "/memories?" + urllib.parse.urlencode({"user_id": user_id}))
        emit(step="list", status=status, decision_id=h.get("x-mem0-gov-decision-id"), count=len(listed.get("results", [])))
    except Refused as r:
        body = r.body if isinstance(r.body, dict) else {}
        emit(step=r.step, status=r.status, error=body.get("error"), reason=body.get("reason"), decision_id=body.get("decision_id"), request_id=body.get("request_id"))
        return 2
    except (urllib.error.URLError, OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

// An agent's governed Mem0 calls through mem0-gov, with Go's standard library only (net/http).
//
// Gets a token (a dev token, or Keycloak client credentials), then adds a memory, searches, gets
// it by id and lists the user's memories through Envoy. Prints one JSON line per step.
// Exit 0 = every call allowed; 2 = mem0-gov (or Mem0) refused one, with the stable reason;
// 1 = anything else (network, configuration).
//
//	go build -o mem0-gov-example . && ./mem0-gov-example
//
// Environment:
//
//	MEM0_GOV_BASE_URL       Envoy's TLS listener, e.g. https://127.0.0.1:9000
//	MEM0_GOV_CA_FILE        PEM CA to trust for it (dev stack: .state/envoy/certs/ca.crt); default: system CAs
//	MEM0_GOV_USER_ID        the Mem0 user id, <tenant>:<local>, e.g. acme:alice
//	MEM0_GOV_TOKEN          a bearer token (dev: TOKEN=$(bin/mem0-gov token --tenant acme --role agent-writer)), or:
//	MEM0_GOV_TOKEN_URL      Keycloak: https://<host>/realms/mem0/protocol/openid-connect/token
//	MEM0_GOV_CLIENT_ID, MEM0_GOV_CLIENT_SECRET   the agent's confidential client
//	MEM0_GOV_MEMORY_TEXT    what to remember (default: a tea preference)
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// refused is an error status from mem0-gov or Mem0.
type refused struct {
	step   string
	status int
	body   map[string]any
}

func (r *refused) Error() string { return fmt.Sprintf("%s: HTTP %d", r.step, r.status) }

func mustEnv(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "set %s\n", name)
		os.Exit(1)
	}
	return v
}

type client struct {
	base        string
	http        *http.Client
	staticToken string
	token       string
}

func newClient() (*client, error) {
	// Certificate and host name are always verified; a private CA is added, never verification turned off.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := os.Getenv("MEM0_GOV_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", ca)
		}
		cfg.RootCAs = pool
	}
	return &client{
		base:        strings.TrimRight(mustEnv("MEM0_GOV_BASE_URL"), "/"),
		http:        &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}},
		staticToken: os.Getenv("MEM0_GOV_TOKEN"),
	}, nil
}

func (c *client) getToken(force bool) (string, error) {
	if c.staticToken != "" {
		return c.staticToken, nil
	}
	if c.token != "" && !force {
		return c.token, nil
	}
	// OAuth 2.0 client credentials (RFC 6749 §4.4), client_secret_basic as Keycloak accepts it.
	req, err := http.NewRequest("POST", mustEnv("MEM0_GOV_TOKEN_URL"), strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(mustEnv("MEM0_GOV_CLIENT_ID")), url.QueryEscape(mustEnv("MEM0_GOV_CLIENT_SECRET")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 || out.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %d", res.StatusCode)
	}
	c.token = out.AccessToken
	return c.token, nil
}

// call makes one request through Envoy. It retries once after 429 (Retry-After) and once after
// 401 with a fresh token.
func (c *client) call(step, method, path string, body any) (int, any, http.Header, error) {
	retried401, retried429 := false, false
	for {
		var payload io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return 0, nil, nil, err
			}
			payload = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, c.base+path, payload)
		if err != nil {
			return 0, nil, nil, err
		}
		token, err := c.getToken(false)
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.http.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return 0, nil, nil, err
		}
		if res.StatusCode == 429 && !retried429 {
			retried429 = true
			wait, _ := strconv.ParseFloat(res.Header.Get("Retry-After"), 64)
			time.Sleep(time.Duration(min(max(wait, 1), 5) * float64(time.Second)))
			continue
		}
		if res.StatusCode == 401 && c.staticToken == "" && !retried401 {
			retried401 = true
			if _, err := c.getToken(true); err != nil {
				return 0, nil, nil, err
			}
			continue
		}
		var parsed any
		if len(raw) > 0 && json.Unmarshal(raw, &parsed) != nil {
			parsed = map[string]any{"error": string(raw[:min(len(raw), 200)])}
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			m, _ := parsed.(map[string]any)
			return res.StatusCode, nil, nil, &refused{step: step, status: res.StatusCode, body: m}
		}
		return res.StatusCode, parsed, res.Header, nil
	}
}

func emit(fields map[string]any) {
	b, _ := json.Marshal(fields)
	fmt.Println(string(b))
}

// results returns the "results" array of a list or search answer.
func results(v any) []map[string]any {
	m, _ := v.(map[string]any)
	arr, _ := m["results"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, x := range arr {
		if r, ok := x.(map[string]any); ok {
			out = append(out, r)
		}
	}
	return out
}

func ids(v any) []string {
	out := []string{}
	for _, r := range results(v) {
		if id, ok := r["id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

func run() error {
	userID := mustEnv("MEM0_GOV_USER_ID")
	text := os.Getenv("MEM0_GOV_MEMORY_TEXT")
	if text == "" {
		text = "I prefer green tea in the afternoon"
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	status, added, h, err := c.call("add", "POST", "/memories", map[string]any{
		"messages": []map[string]string{{"role": "user", "content": text}}, "user_id": userID, "metadata": map[string]string{"source": "go-example"},
	})
	if err != nil {
		return err
	}
	addedIDs := ids(added)
	emit(map[string]any{"step": "add", "status": status, "decision_id": h.Get("x-mem0-gov-decision-id"), "ids": addedIDs})

	status, found, h, err := c.call("search", "POST", "/search", map[string]any{"query": text, "filters": map[string]string{"user_id": userID}, "top_k": 5})
	if err != nil {
		return err
	}
	emit(map[string]any{"step": "search", "status": status, "decision_id": h.Get("x-mem0-gov-decision-id"), "ids": ids(found)})

	if len(addedIDs) > 0 {
		status, got, h, err := c.call("get", "GET", "/memories/"+url.PathEscape(addedIDs[0]), nil)
		if err != nil {
			return err
		}
		m, _ := got.(map[string]any)
		emit(map[string]any{"step": "get", "status": status, "decision_id": h.Get("x-mem0-gov-decision-id"), "id": m["id"], "memory": m["memory"]})
	}

	status, listed, h, err := c.call("list", "GET", "/memories?"+url.Values{"user_id": {userID}}.Encode(), nil)
	if err != nil {
		return err
	}
	emit(map[string]any{"step": "list", "status": status, "decision_id": h.Get("x-mem0-gov-decision-id"), "count": len(results(listed))})
	return nil
}

func main() {
	err := run()
	var r *refused
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &r):
		emit(map[string]any{"step": r.step, "status": r.status, "error": r.body["error"], "reason": r.body["reason"], "decision_id": r.body["decision_id"], "request_id": r.body["request_id"]})
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

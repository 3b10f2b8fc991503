// An agent's governed Mem0 calls through mem0-gov, with the JDK only (java.net.http, Java 17+).
//
// Gets a token (a dev token, or Keycloak client credentials), then adds a memory, searches, gets
// it by id and lists the user's memories through Envoy. Prints one JSON line per step.
// Exit 0 = every call allowed; 2 = mem0-gov (or Mem0) refused one, with the stable reason;
// 1 = anything else (network, configuration).
//
//   java examples/java/Mem0GovExample.java          (single-file source launch), or
//   javac -d out examples/java/Mem0GovExample.java && java -cp out Mem0GovExample
//
// Environment:
//   MEM0_GOV_BASE_URL       Envoy's TLS listener, e.g. https://127.0.0.1:9000
//   MEM0_GOV_CA_FILE        PEM CA to trust for it (dev stack: .state/envoy/certs/ca.crt); default: system CAs
//   MEM0_GOV_USER_ID        the Mem0 user id, <tenant>:<local>, e.g. acme:alice
//   MEM0_GOV_TOKEN          a bearer token (dev: TOKEN=$(bin/mem0-gov token --tenant acme --role agent-writer)), or:
//   MEM0_GOV_TOKEN_URL      Keycloak: https://<host>/realms/mem0/protocol/openid-connect/token
//   MEM0_GOV_CLIENT_ID, MEM0_GOV_CLIENT_SECRET   the agent's confidential client
//   MEM0_GOV_MEMORY_TEXT    what to remember (default: a tea preference)
//
// The JDK has no JSON parser; the small one below reads the answers (objects, arrays, strings,
// numbers, true/false/null) and the writer escapes strings per RFC 8259.
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

public final class Mem0GovExample {

  /** An error status from mem0-gov or Mem0. */
  static final class Refused extends Exception {
    final String step;
    final int status;
    final Map<String, Object> body;

    Refused(String step, int status, Map<String, Object> body) {
      super(step + ": HTTP " + status);
      this.step = step;
      this.status = status;
      this.body = body;
    }
  }

  static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      System.err.println("set " + name);
      System.exit(1);
    }
    return v;
  }

  private final String base = env("MEM0_GOV_BASE_URL").replaceAll("/$", "");
  private final String staticToken = System.getenv("MEM0_GOV_TOKEN");
  private final HttpClient http;
  private String token;

  Mem0GovExample() throws Exception {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).version(HttpClient.Version.HTTP_1_1);
    // Certificate and host name are always verified; a private CA is added, never verification turned off.
    String caFile = System.getenv("MEM0_GOV_CA_FILE");
    if (caFile != null && !caFile.isEmpty()) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      try (InputStream in = new FileInputStream(caFile)) {
        int i = 0;
        for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) ks.setCertificateEntry("ca-" + i++, cert);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      b.sslContext(ctx);
    }
    SSLParameters params = new SSLParameters();
    params.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    b.sslParameters(params);
    http = b.build();
  }

  String getToken(boolean force) throws Exception {
    if (staticToken != null && !staticToken.isEmpty()) return staticToken;
    if (token != null && !force) return token;
    // OAuth 2.0 client credentials (RFC 6749 §4.4), client_secret_basic as Keycloak accepts it.
    String basic = Base64.getEncoder().encodeToString((URLEncoder.encode(env("MEM0_GOV_CLIENT_ID"), StandardCharsets.UTF_8) + ":"
        + URLEncoder.encode(env("MEM0_GOV_CLIENT_SECRET"), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
    HttpRequest req = HttpRequest.newBuilder(URI.create(env("MEM0_GOV_TOKEN_URL"))).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Basic " + basic).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials")).build();
    HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
    Object parsed = res.body().isEmpty() ? null : new Json(res.body()).value();
    Object t = parsed instanceof Map<?, ?> m ? m.get("access_token") : null;
    if (res.statusCode() != 200 || !(t instanceof String)) throw new IllegalStateException("token endpoint answered " + res.statusCode());
    token = (String) t;
    return token;
  }

  /** One request through Envoy. Retries once after 429 (Retry-After) and once after 401 with a fresh token. */
  HttpResponse<String> call(String step, String method, String path, Object body) throws Exception {
    boolean retried401 = false, retried429 = false;
    while (true) {
      HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(15))
          .header("Authorization", "Bearer " + getToken(false));
      if (body != null) rb.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(Json.write(body)));
      else rb.method(method, HttpRequest.BodyPublishers.noBody());
      HttpResponse<String> res = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
      int s = res.statusCode();
      if (s == 429 && !retried429) {
        retried429 = true;
        double wait = res.headers().firstValue("retry-after").map(Double::parseDouble).orElse(1.0);
        Thread.sleep((long) (Math.min(Math.max(wait, 1), 5) * 1000));
        continue;
      }
      if (s == 401 && (staticToken == null || staticToken.isEmpty()) && !retried401) {
        retried401 = true;
        getToken(true);
        continue;
      }
      if (s < 200 || s > 299) {
        Object parsed;
        try {
          parsed = new Json(res.body()).value();
        } catch (RuntimeException e) {
          parsed = null;
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = parsed instanceof Map<?, ?> ? (Map<String, Object>) parsed : Map.of();
        throw new Refused(step, s, m);
      }
      return res;
    }
  }

  static Object parse(HttpResponse<String> res) {
    return res.body().isEmpty() ? null : new Json(res.body()).value();
  }

  @SuppressWarnings("unchecked")
  static List<String> ids(Object answer) {
    List<String> out = new ArrayList<>();
    if (answer instanceof Map<?, ?> m && m.get("results") instanceof List<?> rs) {
      for (Object r : rs) if (r instanceof Map<?, ?> mr && mr.get("id") instanceof String id) out.add(id);
    }
    return out;
  }

  static void emit(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    System.out.println(Json.write(m));
  }

  static String decision(HttpResponse<String> res) {
    return res.headers().firstValue("x-mem0-gov-decision-id").orElse(null);
  }

  int run() throws Exception {
    String userId = env("MEM0_GOV_USER_ID");
    String text = System.getenv("MEM0_GOV_MEMORY_TEXT");
    if (text == null || text.isEmpty()) text = "I prefer green tea in the afternoon";
    try {
      HttpResponse<String> added = call("add", "POST", "/memories", Map.of(
          "messages", List.of(Map.of("role", "user", "content", text)), "user_id", userId, "metadata", Map.of("source", "java-example")));
      List<String> addedIds = ids(parse(added));
      emit("step", "add", "status", added.statusCode(), "decision_id", decision(added), "ids", addedIds);

      HttpResponse<String> found = call("search", "POST", "/search", Map.of("query", text, "filters", Map.of("user_id", userId), "top_k", 5));
      emit("step", "search", "status", found.statusCode(), "decision_id", decision(found), "ids", ids(parse(found)));

      if (!addedIds.isEmpty()) {
        HttpResponse<String> got = call("get", "GET", "/memories/" + URLEncoder.encode(addedIds.get(0), StandardCharsets.UTF_8), null);
        Object m = parse(got);
        Map<?, ?> mm = m instanceof Map<?, ?> x ? x : Map.of();
        emit("step", "get", "status", got.statusCode(), "decision_id", decision(got), "id", mm.get("id"), "memory", mm.get("memory"));
      }

      HttpResponse<String> listed = call("list", "GET", "/memories?user_id=" + URLEncoder.encode(userId, StandardCharsets.UTF_8), null);
      Object l = parse(listed);
      int count = l instanceof Map<?, ?> lm && lm.get("results") instanceof List<?> rs ? rs.size() : 0;
      emit("step", "list", "status", listed.statusCode(), "decision_id", decision(listed), "count", count);
      return 0;
    } catch (Refused r) {
      emit("step", r.step, "status", r.status, "error", r.body.get("error"), "reason", r.body.get("reason"),
          "decision_id", r.body.get("decision_id"), "request_id", r.body.get("request_id"));
      return 2;
    }
  }

  public static void main(String[] args) {
    int code;
    try {
      code = new Mem0GovExample().run();
    } catch (Exception e) {
      System.err.println("error: " + e);
      code = 1;
    }
    System.exit(code);
  }

  /** A minimal JSON reader and writer (RFC 8259). */
  static final class Json {
    private final String s;
    private int i;

    Json(String s) {
      this.s = s;
    }

    Object value() {
      Object v = read();
      ws();
      if (i != s.length()) throw new IllegalArgumentException("trailing data at " + i);
      return v;
    }

    private void ws() {
      while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++;
    }

    private Object read() {
      ws();
      if (i >= s.length()) throw new IllegalArgumentException("unexpected end");
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (s.charAt(i) == '}') { i++; return m; }
        while (true) {
          ws();
          String k = str();
          ws();
          expect(':');
          m.put(k, read());
          ws();
          if (s.charAt(i) == ',') { i++; continue; }
          expect('}');
          return m;
        }
      }
      if (c == '[') {
        List<Object> a = new ArrayList<>();
        i++;
        ws();
        if (s.charAt(i) == ']') { i++; return a; }
        while (true) {
          a.add(read());
          ws();
          if (s.charAt(i) == ',') { i++; continue; }
          expect(']');
          return a;
        }
      }
      if (c == '"') return str();
      if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
      if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
      if (s.startsWith("null", i)) { i += 4; return null; }
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
      if (start == i) throw new IllegalArgumentException("unexpected " + c + " at " + i);
      return Double.parseDouble(s.substring(start, i));
    }

    private void expect(char c) {
      if (i >= s.length() || s.charAt(i) != c) throw new IllegalArgumentException("expected " + c + " at " + i);
      i++;
    }

    private String str() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (true) {
        char c = s.charAt(i++);
        if (c == '"') return b.toString();
        if (c != '\\') { b.append(c); continue; }
        char e = s.charAt(i++);
        switch (e) {
          case 'b' -> b.append('\b');
          case 'f' -> b.append('\f');
          case 'n' -> b.append('\n');
          case 'r' -> b.append('\r');
          case 't' -> b.append('\t');
          case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
          default -> b.append(e);
        }
      }
    }

    static String write(Object v) {
      if (v == null) return "null";
      if (v instanceof String str) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : str.toCharArray()) {
          switch (c) {
            case '"' -> b.append("\\\"");
            case '\\' -> b.append("\\\\");
            case '\n' -> b.append("\\n");
            case '\r' -> b.append("\\r");
            case '\t' -> b.append("\\t");
            default -> {
              if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
              else b.append(c);
            }
          }
        }
        return b.append('"').toString();
      }
      if (v instanceof Map<?, ?> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
          if (!first) b.append(',');
          first = false;
          b.append(write(String.valueOf(e.getKey()))).append(':').append(write(e.getValue()));
        }
        return b.append('}').toString();
      }
      if (v instanceof List<?> l) {
        StringBuilder b = new StringBuilder("[");
        for (int k = 0; k < l.size(); k++) b.append(k > 0 ? "," : "").append(write(l.get(k)));
        return b.append(']').toString();
      }
      if (v instanceof Double d && d == Math.rint(d) && !Double.isInfinite(d)) return String.valueOf(d.longValue());
      return String.valueOf(v);
    }
  }
}

// What a backend built on WxJava (com.github.binarywang:weixin-java-miniapp 4.7.9.B) gets: its own
// WxMaCryptUtils / WxMaUserService do the crypto, its own WxMaServiceImpl does the HTTP (token cache,
// one retry on 40001/40014/42001). Nothing is re-implemented here.
//
// Usage: java -cp 'target/classes:target/lib/*' Check decrypt|live FILE -> one JSON array on stdout
// (see ../README.md). Exit status is non-zero only for harness errors (bad arguments or input file).

import cn.binarywang.wx.miniapp.api.WxMaService;
import cn.binarywang.wx.miniapp.api.impl.WxMaServiceImpl;
import cn.binarywang.wx.miniapp.bean.WxMaJscode2SessionResult;
import cn.binarywang.wx.miniapp.bean.WxMaPhoneNumberInfo;
import cn.binarywang.wx.miniapp.config.impl.WxMaDefaultConfigImpl;
import cn.binarywang.wx.miniapp.json.WxMaGsonBuilder;
import cn.binarywang.wx.miniapp.util.crypt.WxMaCryptUtils;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.common.util.http.apache.DefaultApacheHttpClientBuilder;

public class Check {
  static final int OP_TIMEOUT_S = 20; // per live op: a library stuck retrying becomes an outcome
  static final Gson OUT = new GsonBuilder().disableHtmlEscaping().setPrettyPrinting().serializeNulls().create();

  interface Decrypt {
    String run(String sessionKey, String iv, String encryptedData) throws Exception;
  }

  record Call(String name, Decrypt fn) {}

  /** Every decrypt function WxJava has. None of them checks watermark.appid. */
  static List<Call> decryptCalls(WxMaService service) {
    return List.of(
        // AES/CBC/NoPadding + WxJava's lenient PKCS7Encoder.decode: the raw text, garbage included.
        new Call("WxJava WxMaCryptUtils.decrypt", (sk, iv, ed) -> WxMaCryptUtils.decrypt(sk, ed, iv)),
        // BouncyCastle AES/CBC/PKCS7Padding (strict).
        new Call("WxJava WxMaCryptUtils.decryptAnotherWay", (sk, iv, ed) -> WxMaCryptUtils.decryptAnotherWay(sk, ed, iv)),
        // decrypt + WxMaPhoneNumberInfo.fromJson: what a backend calls; written back with WxJava's own Gson.
        new Call("WxJava getPhoneNoInfo",
            (sk, iv, ed) -> WxMaGsonBuilder.create().toJson(service.getUserService().getPhoneNoInfo(sk, ed, iv))));
  }

  /** "Class: message" for the exception and each cause (WxRuntimeException wraps the cipher's). */
  static String detail(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (sb.length() > 0) sb.append(" <- ");
      sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
    }
    return sb.toString();
  }

  static final Pattern ERRCODE = Pattern.compile("errcode\"?\\s*[:=]\\s*(-?\\d+)");

  static JsonElement errcode(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof WxErrorException w && w.getError() != null) return new JsonPrimitive(w.getError().getErrorCode());
      Matcher m = ERRCODE.matcher(String.valueOf(t.getMessage()));
      if (m.find()) return new JsonPrimitive(Integer.parseInt(m.group(1)));
    }
    return JsonNull.INSTANCE;
  }

  static List<JsonObject> runDecrypt(WxMaService service, String sk, String iv, String ed) {
    List<JsonObject> rows = new ArrayList<>();
    for (Call c : decryptCalls(service)) {
      JsonObject r = new JsonObject();
      r.addProperty("call", c.name());
      try {
        String plain = c.fn().run(sk, iv, ed);
        r.addProperty("outcome", "ok");
        r.addProperty("plaintext", plain);
        r.addProperty("detail", "");
      } catch (Throwable e) { // a refusal is a result, not a harness error
        r.addProperty("outcome", "error");
        r.addProperty("detail", detail(e));
      }
      rows.add(r);
    }
    return rows;
  }

  static JsonArray decryptMode(JsonArray cases) {
    WxMaService service = new WxMaServiceImpl(); // getPhoneNoInfo needs no config or HTTP
    List<JsonObject> out = new ArrayList<>();
    for (JsonElement el : cases) {
      JsonObject c = el.getAsJsonObject();
      for (JsonObject r : runDecrypt(service, str(c, "session_key"), str(c, "iv"), str(c, "encryptedData"))) {
        JsonObject row = new JsonObject();
        row.addProperty("name", str(c, "name"));
        r.entrySet().forEach(e -> row.add(e.getKey(), e.getValue()));
        out.add(row);
      }
    }
    out.sort(Comparator.<JsonObject, String>comparing(r -> r.get("name").getAsString())
        .thenComparing(r -> r.get("call").getAsString()));
    JsonArray arr = new JsonArray();
    out.forEach(arr::add);
    return arr;
  }

  static String str(JsonObject o, String k) {
    JsonElement e = o.get(k);
    if (e == null) throw new IllegalArgumentException("missing \"" + k + "\"");
    return e.isJsonNull() ? null : e.getAsString();
  }

  /** A malformed FILE found while running it (unknown placeholder, bad method): exit 2. */
  static class HarnessError extends Exception {
    HarnessError(String m) { super(m); }
  }

  static final Map<String, List<String>> PAGE_METHODS =
      Map.of("page", List.of("GET", "POST", "PATCH"), "http", List.of("GET", "POST"));

  /** $APPID / $SECRET replaced inside a path or the string values of a JSON body. */
  static JsonElement withCredentials(JsonElement v, String appid, String secret) {
    if (v == null || v.isJsonNull()) return v;
    if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) {
      return new JsonPrimitive(v.getAsString().replace("$APPID", appid).replace("$SECRET", secret));
    }
    if (v.isJsonArray()) {
      JsonArray a = new JsonArray();
      v.getAsJsonArray().forEach(x -> a.add(withCredentials(x, appid, secret)));
      return a;
    }
    if (v.isJsonObject()) {
      JsonObject o = new JsonObject();
      v.getAsJsonObject().entrySet().forEach(e -> o.add(e.getKey(), withCredentials(e.getValue(), appid, secret)));
      return o;
    }
    return v;
  }

  /** A request not made through the library: the parsed JSON answer (null if empty); HTTP >= 400 throws. */
  static JsonElement plainHttp(String method, String url, JsonElement body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(OP_TIMEOUT_S));
    if (body == null || body.isJsonNull()) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
    }
    HttpResponse<String> res = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (res.statusCode() >= 400) throw new RuntimeException("HTTP " + res.statusCode() + ": " + res.body());
    return res.body().isBlank() ? JsonNull.INSTANCE : JsonParser.parseString(res.body());
  }

  /**
   * What a page answer gives later ops: $login from wx.login, $phone/$encryptedData/$iv (and a new
   * $login from login_code_after) from tap. Only fields present (strings) are taken; a tap forgets the
   * previous tap's $phone/$encryptedData/$iv first (a deny has none of them).
   */
  static void remember(Map<String, String> memory, String path, JsonElement value) {
    String p = path.split("\\?", 2)[0].replaceAll("/+$", "");
    if (value == null || !value.isJsonObject()) return;
    JsonObject v = value.getAsJsonObject();
    if (p.endsWith("/wx.login")) {
      take(memory, "$login", v.get("code"));
    } else if (p.endsWith("/tap")) {
      List.of("$phone", "$encryptedData", "$iv").forEach(memory::remove); // this tap's, not an older one's
      JsonElement d = v.get("detail");
      if (d != null && d.isJsonObject()) {
        take(memory, "$phone", d.getAsJsonObject().get("code"));
        take(memory, "$encryptedData", d.getAsJsonObject().get("encryptedData"));
        take(memory, "$iv", d.getAsJsonObject().get("iv"));
      }
      take(memory, "$login", v.get("login_code_after"));
    }
  }

  static void take(Map<String, String> memory, String name, JsonElement v) {
    if (v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) memory.put(name, v.getAsString());
  }

  /** A value starting with $ is a placeholder for something a page op remembered. */
  static String resolve(Map<String, String> memory, int index, String v) throws HarnessError {
    if (v != null && v.startsWith("$")) {
      if (!memory.containsKey(v)) {
        throw new HarnessError("op " + index + ": unknown placeholder " + v + " (remembered: "
            + (memory.isEmpty() ? "none" : String.join(", ", memory.keySet())) + ")");
      }
      return memory.get(v);
    }
    return v;
  }

  static JsonArray liveMode(JsonObject spec) throws Exception {
    String base = str(spec, "base_url").replaceAll("/+$", "");
    String appid = str(spec, "appid");

    // WxJava's own setting: every URL starting with https://api.weixin.qq.com, the token URL
    // included, is rewritten to apiHostUrl. The request interceptor only counts requests.
    AtomicInteger requests = new AtomicInteger();
    DefaultApacheHttpClientBuilder http = DefaultApacheHttpClientBuilder.get();
    http.getRequestInterceptors().add((req, ctx) -> requests.incrementAndGet());
    WxMaDefaultConfigImpl config = new WxMaDefaultConfigImpl(); // in-memory token, refreshed 200 s early
    config.setAppid(appid);
    config.setSecret(str(spec, "secret"));
    config.setApiHostUrl(base);
    config.setApacheHttpClientBuilder(http);
    WxMaService service = new WxMaServiceImpl();
    service.setWxMaConfig(config);

    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r);
      t.setDaemon(true); // a timed-out op must not keep the JVM alive
      return t;
    });
    JsonArray out = new JsonArray();
    String lastSessionKey = null;
    Map<String, String> memory = new TreeMap<>(); // placeholder -> value, filled by page ops
    String secret = str(spec, "secret");
    JsonArray ops = spec.getAsJsonArray("ops");
    for (int index = 0; index < ops.size(); index++) {
      JsonObject op = ops.get(index).getAsJsonObject();
      String kind = str(op, "op");
      Callable<JsonElement> fn;
      String call;
      switch (kind) {
        case "token" -> {
          call = "WxJava getAccessToken";
          fn = () -> new JsonPrimitive(service.getAccessToken());
        }
        case "login" -> {
          String code = resolve(memory, index, str(op, "code"));
          call = "WxJava getUserService().getSessionInfo";
          fn = () -> { // also sends access_token=, so it fetches a token first
            WxMaJscode2SessionResult r = service.getUserService().getSessionInfo(code);
            JsonObject v = new JsonObject();
            v.addProperty("openid", r.getOpenid());
            v.addProperty("session_key", r.getSessionKey());
            if (r.getUnionid() != null) v.addProperty("unionid", r.getUnionid());
            return v;
          };
        }
        case "phone" -> {
          String code = resolve(memory, index, str(op, "code"));
          call = "WxJava getUserService().getPhoneNumber";
          fn = () -> { // null (no exception) when the answer has no phone_info
            WxMaPhoneNumberInfo info = service.getUserService().getPhoneNumber(code);
            return info == null ? JsonNull.INSTANCE : JsonParser.parseString(WxMaGsonBuilder.create().toJson(info));
          };
        }
        case "decrypt" -> {
          String sk = op.has("session_key") && !op.get("session_key").isJsonNull() ? str(op, "session_key") : lastSessionKey;
          List<JsonObject> rows;
          if (sk != null) {
            rows = runDecrypt(service, sk, resolve(memory, index, str(op, "iv")),
                resolve(memory, index, str(op, "encryptedData")));
          } else {
            rows = new ArrayList<>();
            for (Call c : decryptCalls(service)) {
              JsonObject r = new JsonObject();
              r.addProperty("call", c.name());
              r.addProperty("outcome", "error");
              r.addProperty("detail", "NoSessionKey: session_key is null and no login op succeeded before");
              rows.add(r);
            }
          }
          for (JsonObject r : rows) {
            JsonObject row = new JsonObject();
            row.addProperty("index", index);
            row.addProperty("op", kind);
            row.add("call", r.get("call"));
            row.add("outcome", r.get("outcome"));
            if (r.has("plaintext")) row.add("value", r.get("plaintext"));
            row.add("errcode", JsonNull.INSTANCE);
            row.add("detail", r.get("detail"));
            row.addProperty("requests", 0);
            out.add(row);
          }
          continue;
        }
        case "advance" -> {
          long seconds = op.get("seconds").getAsLong();
          call = "http POST /api/v1/clock/advance";
          fn = () -> { // plain HTTP, not through the library: moves the simulator's clock
            HttpResponse<String> res = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(base + "/api/v1/clock/advance"))
                    .timeout(Duration.ofSeconds(OP_TIMEOUT_S))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"seconds\":" + seconds + "}")).build(),
                HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() / 100 != 2) throw new RuntimeException("HTTP " + res.statusCode() + ": " + res.body());
            return res.body().isBlank() ? JsonNull.INSTANCE : JsonParser.parseString(res.body());
          };
        }
        case "page", "http" -> {
          // Plain HTTP, not through the library: a page's API call (page) or another server of the
          // same backend (http, e.g. a token fetched behind the library's back).
          String method = str(op, "method");
          if (method == null || !PAGE_METHODS.get(kind).contains(method)) {
            throw new HarnessError("op " + index + ": " + kind + " method must be one of "
                + String.join("/", PAGE_METHODS.get(kind)) + ", not " + op.get("method"));
          }
          if (method.equals("GET") && op.has("body") && !op.get("body").isJsonNull()) {
            throw new HarnessError("op " + index + ": " + kind + " GET takes no body");
          }
          String path = withCredentials(op.get("path"), appid, secret).getAsString();
          JsonElement body = op.has("body") ? withCredentials(op.get("body"), appid, secret) : null;
          call = kind;
          fn = () -> plainHttp(method, base + path, body);
        }
        default -> throw new IllegalArgumentException("op " + index + ": unknown op \"" + kind + "\"");
      }

      requests.set(0);
      JsonObject row = new JsonObject();
      row.addProperty("index", index);
      row.addProperty("op", kind);
      row.addProperty("call", call);
      Future<JsonElement> f = pool.submit(fn);
      try {
        JsonElement v = f.get(OP_TIMEOUT_S, TimeUnit.SECONDS);
        row.addProperty("outcome", "ok");
        row.add("value", v);
        row.add("errcode", JsonNull.INSTANCE);
        row.addProperty("detail", "");
        if (kind.equals("login")) lastSessionKey = v.getAsJsonObject().get("session_key").getAsString();
        if (kind.equals("page")) remember(memory, withCredentials(op.get("path"), appid, secret).getAsString(), v);
      } catch (TimeoutException e) {
        f.cancel(true);
        row.addProperty("outcome", "error");
        row.add("errcode", JsonNull.INSTANCE);
        row.addProperty("detail", "GuardError: op still running after " + OP_TIMEOUT_S + " s");
      } catch (java.util.concurrent.ExecutionException e) {
        row.addProperty("outcome", "error");
        row.add("errcode", errcode(e.getCause()));
        row.addProperty("detail", detail(e.getCause()));
      }
      row.addProperty("requests", requests.get());
      out.add(row);
    }
    return out;
  }

  public static void main(String[] args) {
    if (args.length != 2 || !(args[0].equals("decrypt") || args[0].equals("live"))) {
      System.err.println("usage: Check decrypt|live FILE");
      System.exit(2);
    }
    JsonElement result;
    try {
      JsonElement input = JsonParser.parseString(Files.readString(Path.of(args[1]), StandardCharsets.UTF_8));
      result = args[0].equals("decrypt") ? decryptMode(input.getAsJsonArray()) : liveMode(input.getAsJsonObject());
    } catch (Exception e) {
      System.err.println("Check: bad input " + args[1] + ": " + detail(e));
      System.exit(2);
      return;
    }
    System.out.println(OUT.toJson(result));
    System.exit(0);
  }
}

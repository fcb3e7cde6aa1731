// Verdicts on simulator fixtures, computed the way a backend built on the official Java SDK
// (Maven com.alipay.sdk:alipay-sdk-java) would, following Alipay's own Java decrypt sample: the
// envelope is parsed with fastjson Feature.OrderedField into a Map<String, String>, the
// ciphertext is quoted before AlipaySignature.rsaCheck, and AlipayEncrypt.decryptContent
// decrypts. All crypto is the SDK's own; nothing is reimplemented here.
// Usage: java -cp target/classes:target/lib/* Check DIR   -> prints a JSON array of verdicts.

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.JSONObject;
import com.alibaba.fastjson.TypeReference;
import com.alibaba.fastjson.parser.Feature;
import com.alibaba.fastjson.serializer.SerializerFeature;
import com.alipay.api.AlipayApiException;
import com.alipay.api.internal.util.AlipayEncrypt;
import com.alipay.api.internal.util.AlipaySignature;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class Check {
    /** What the sample hard-codes: the charset for verifying and decrypting, and the cipher. */
    private static final String CHARSET = "UTF-8";
    private static final String ENCRYPT_TYPE = "AES";

    /** One verdict row, in the field order the other checkers print. */
    private static Map<String, Object> v(String verdict, String detail, Object plaintext) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("verdict", verdict);
        row.put("plaintext", plaintext);
        row.put("detail", detail);
        return row;
    }

    private static Map<String, Object> v(String verdict, String detail) {
        return v(verdict, detail, null);
    }

    /** The signed content and its signature, as taken from one payload. */
    private static final class Signed {
        final String content; // the "response" value: ciphertext, or the object's text
        final String sign; // null when the payload carries none
        final boolean hasSign;

        Signed(String content, String sign, boolean hasSign) {
            this.content = content;
            this.sign = sign;
            this.hasSign = hasSign;
        }
    }

    /** Either the signed parts of a payload, or the verdict that ends the check there. */
    private static final class Extracted {
        final Signed signed;
        final Map<String, Object> verdict;

        Extracted(Signed signed, Map<String, Object> verdict) {
            this.signed = signed;
            this.verdict = verdict;
        }
    }

    /**
     * The one place that knows payload shapes: takes (content, sign) out of a fixture's payload.
     * Known: {"response": "<envelope text>"}, the text `res.response` the front end posts. Any
     * other shape is reject-parse, named in the detail.
     */
    private static Extracted extract(Object payload) {
        if (!(payload instanceof JSONObject)) {
            return new Extracted(null, v("reject-parse", "payload is not an object"));
        }
        JSONObject p = (JSONObject) payload;
        if (!p.containsKey("response")) {
            return new Extracted(null, v("reject-parse", "unknown payload shape: keys " + p.keySet()));
        }
        Object text = p.get("response");
        if (!(text instanceof String)) {
            return new Extracted(null, v("reject-parse", "payload.response is not a string"));
        }
        // Exactly the sample's parse: the order-preserving feature keeps a plain object's text
        // as it was signed, and TypeReference<Map<String, String>> hands back every value as text.
        Map<String, String> env;
        try {
            env = JSON.parseObject((String) text, new TypeReference<Map<String, String>>() {},
                    Feature.OrderedField);
        } catch (RuntimeException e) {
            return new Extracted(null, v("reject-parse", "JSON.parseObject: " + describe(e)));
        }
        if (env == null || !env.containsKey("response")) {
            return new Extracted(null, v("reject-parse", "envelope is not an object with a \"response\" key"));
        }
        if (env.get("response") == null) {
            return new Extracted(null, v("reject-parse", "\"response\" is null"));
        }
        return new Extracted(new Signed(env.get("response"), env.get("sign"), env.containsKey("sign")), null);
    }

    private static Map<String, Object> judge(JSONObject fx) {
        Object callback = fx.get("callback");
        if (!"success".equals(callback)) {
            return v("front-end", "callback " + callback + ": nothing reached the backend");
        }
        Extracted x = extract(fx.get("payload"));
        if (x.verdict != null) {
            return x.verdict;
        }
        Signed s = x.signed;
        if (!s.hasSign) {
            return v("unsigned", "envelope has no \"sign\"");
        }
        String signType = fx.getString("sign_type") != null ? fx.getString("sign_type") : "RSA2";
        String content = s.content;
        // The sample: anything not starting with "{" is ciphertext, signed with its quotes.
        boolean encrypted = !content.startsWith("{");
        String signContent = encrypted ? "\"" + content + "\"" : content;

        boolean ok;
        try {
            ok = AlipaySignature.rsaCheck(signContent, s.sign, fx.getString("alipay_public_key"), CHARSET, signType);
        } catch (Exception e) {
            return v("reject-signature", "rsaCheck(" + signType + ") threw " + describe(e));
        }
        if (!ok) {
            return v("reject-signature", "rsaCheck(" + signType + ") returned false");
        }

        String plain;
        String how;
        if (encrypted) {
            try {
                plain = AlipayEncrypt.decryptContent(content, ENCRYPT_TYPE, fx.getString("aes_key"), CHARSET);
            } catch (Exception e) {
                return v("reject-decrypt", "decryptContent threw " + describe(e));
            }
            how = "encrypted content, " + signType + " signature ok, decrypted";
        } else {
            plain = content;
            how = "plain content, " + signType + " signature ok";
        }
        Object obj;
        try {
            obj = JSON.parse(plain, Feature.OrderedField);
        } catch (RuntimeException e) {
            String head = plain.length() > 40 ? plain.substring(0, 40) : plain;
            return v("reject-decrypt", "decrypted text is not JSON (" + JSON.toJSONString(head) + "): " + describe(e));
        }
        if (!(obj instanceof JSONObject)) {
            return v("reject-decrypt", "decrypted JSON is not an object");
        }
        return v("accept", how, obj);
    }

    /**
     * An exception and its causes, each as class and message. An AlipayApiException that wraps a
     * cause is named only: its message repeats the content, key and signature it was given.
     */
    private static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (b.length() > 0) {
                b.append(" <- ");
            }
            b.append(t.getClass().getSimpleName());
            String m = t.getMessage();
            if (m != null && !(t instanceof AlipayApiException && t.getCause() != null)) {
                b.append(": ").append(m.length() > 120 ? m.substring(0, 120) + "..." : m);
            }
        }
        return b.toString();
    }

    private static void fail(String message) {
        System.err.println(message);
        System.exit(2);
    }

    public static void main(String[] args) {
        if (args.length != 1) {
            fail("usage: java Check DIR");
        }
        Path dir = Paths.get(args[0]);
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.json")) {
            for (Path f : stream) {
                String n = f.getFileName().toString();
                if (!n.equals("index.json") && !n.equals("keys.json")) {
                    files.add(f);
                }
            }
        } catch (IOException e) {
            fail("cannot read fixture directory " + dir + ": " + e);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Path f : files) {
            String n = f.getFileName().toString();
            Object parsed = null;
            try {
                parsed = JSON.parse(new String(Files.readAllBytes(f), StandardCharsets.UTF_8), Feature.OrderedField);
            } catch (IOException | RuntimeException e) {
                fail("cannot read fixture " + n + ": " + e);
            }
            if (!(parsed instanceof JSONObject)) {
                fail("fixture " + n + " is not a JSON object");
            }
            JSONObject fx = (JSONObject) parsed;
            String scenario = fx.getString("scenario");
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("scenario", scenario != null && !scenario.isEmpty() ? scenario : n.substring(0, n.length() - 5));
            row.put("sdk", "java");
            row.putAll(judge(fx));
            out.add(row);
        }
        // Plain UTF-16 code-unit order, as the Node checker sorts.
        out.sort((a, b) -> ((String) a.get("scenario")).compareTo((String) b.get("scenario")));
        // One verdict per line, in UTF-8 whatever the locale says, like the other checkers.
        StringBuilder text = new StringBuilder();
        if (out.isEmpty()) {
            text.append("[]\n");
        } else {
            text.append("[\n");
            for (int i = 0; i < out.size(); i++) {
                text.append(JSON.toJSONString(out.get(i), SerializerFeature.WriteMapNullValue));
                text.append(i + 1 < out.size() ? ",\n" : "\n");
            }
            text.append("]\n");
        }
        PrintStream stdout = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        stdout.print(text);
        stdout.flush();
    }
}

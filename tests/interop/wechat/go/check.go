// What a backend built on github.com/silenceper/wechat/v2 (miniprogram) gets: the library's own
// encryptor does the crypto, its own auth/credential code does the HTTP (memory token cache). The
// harness only feeds it cases, points its hard-coded https://api.weixin.qq.com at the simulator
// and writes down what came back.
//
// Usage: check decrypt|live FILE   -> one JSON array on stdout (see ../README.md).
// Exit status is non-zero only for harness errors (bad arguments or input file).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/miniprogram"
	"github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/miniprogram/encryptor"
	"github.com/silenceper/wechat/v2/util"
)

const opTimeout = 20 * time.Second // per live op, so a stuck library becomes an outcome

type decryptCase struct {
	Name          string `json:"name"`
	AppID         string `json:"appid"`
	SessionKey    string `json:"session_key"`
	IV            string `json:"iv"`
	EncryptedData string `json:"encryptedData"`
}

type result struct {
	call      string
	ok        bool
	plaintext string
	detail    string
}

func detail(err error) string { return fmt.Sprintf("%T: %v", err, err) }

// guarded runs fn, turning a panic into an error: GetCipherText hands ciphertext that is not a
// whole number of blocks to cipher.CryptBlocks, which panics (the library does not check).
func guarded(fn func() (string, error)) (s string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}

// decryptAll runs every decrypt function the library has.
func decryptAll(mp *miniprogram.MiniProgram, sk, iv, ed string) []result {
	calls := []struct {
		name string
		fn   func() (string, error)
	}{
		// Decrypt = GetCipherText + json.Unmarshal into PlainData + watermark.appid check; the
		// plaintext reported is PlainData written back (every field, empty ones too).
		{"silenceper Encryptor.Decrypt", func() (string, error) {
			pd, err := mp.GetEncryptor().Decrypt(sk, ed, iv)
			if err != nil {
				return "", err
			}
			b, err := json.Marshal(pd)
			return string(b), err
		}},
		// The exported helper under it: AES-CBC and the library's own pkcs7Unpad, raw bytes.
		{"silenceper GetCipherText", func() (string, error) {
			b, err := encryptor.GetCipherText(sk, ed, iv)
			return string(b), err
		}},
	}
	out := make([]result, 0, len(calls))
	for _, c := range calls {
		s, err := guarded(c.fn)
		if err != nil {
			out = append(out, result{call: c.name, detail: detail(err)})
		} else {
			out = append(out, result{call: c.name, ok: true, plaintext: s})
		}
	}
	return out
}

func newMiniProgram(appID, secret string) *miniprogram.MiniProgram {
	return miniprogram.NewMiniProgram(&config.Config{AppID: appID, AppSecret: secret, Cache: cache.NewMemory()})
}

type decryptRow struct {
	Name      string  `json:"name"`
	Call      string  `json:"call"`
	Outcome   string  `json:"outcome"`
	Plaintext *string `json:"plaintext,omitempty"`
	Detail    string  `json:"detail"`
}

func decryptMode(raw []byte) (any, error) {
	var cases []decryptCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		return nil, err
	}
	var out []decryptRow
	for _, c := range cases {
		for _, r := range decryptAll(newMiniProgram(c.AppID, ""), c.SessionKey, c.IV, c.EncryptedData) {
			row := decryptRow{Name: c.Name, Call: r.call, Outcome: "error", Detail: r.detail}
			if r.ok {
				p := r.plaintext
				row.Outcome, row.Plaintext = "ok", &p
			}
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Call < out[j].Call
	})
	return out, nil
}

// redirect sends every request for https://api.weixin.qq.com to the simulator (the library
// builds all URLs from that constant) and counts requests. It replaces util.DefaultHTTPClient,
// the client every util.HTTP* helper uses (util.SetURIModifier would also work, but misses
// PostJSONWithRespContentType).
type redirect struct {
	base  *url.URL
	count atomic.Int64
}

func (r *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	r.count.Add(1)
	if req.URL.Host == "api.weixin.qq.com" {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
		req.URL.Path = strings.TrimSuffix(r.base.Path, "/") + req.URL.Path
		req.Host = ""
	}
	return http.DefaultTransport.RoundTrip(req)
}

type liveSpec struct {
	BaseURL string            `json:"base_url"`
	AppID   string            `json:"appid"`
	Secret  string            `json:"secret"`
	Ops     []json.RawMessage `json:"ops"`
}

type liveOp struct {
	Op            string          `json:"op"`
	Code          string          `json:"code"`
	SessionKey    *string         `json:"session_key"`
	IV            string          `json:"iv"`
	EncryptedData string          `json:"encryptedData"`
	Seconds       float64         `json:"seconds"`
	Method        string          `json:"method"`
	Path          *string         `json:"path"`
	Body          json.RawMessage `json:"body"`
}

var pageMethods = map[string][]string{"page": {"GET", "POST", "PATCH"}, "http": {"GET", "POST"}}

// withCredentials replaces $APPID / $SECRET inside a path or the string values of a JSON body.
func withCredentials(v any, appID, secret string) any {
	switch x := v.(type) {
	case string:
		return strings.NewReplacer("$APPID", appID, "$SECRET", secret).Replace(x)
	case []any:
		for i := range x {
			x[i] = withCredentials(x[i], appID, secret)
		}
	case map[string]any:
		for k := range x {
			x[k] = withCredentials(x[k], appID, secret)
		}
	}
	return v
}

// plainHTTP is a request not made through the library: the JSON answer (nil if empty); an HTTP
// status >= 400 is an error with the answer in its message.
func plainHTTP(method, u string, body []byte) (any, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: opTimeout}).Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		return nil, fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("answer is not JSON: %s", b)
	}
	return json.RawMessage(b), nil
}

// remember keeps what a page answer gives later ops: $login from wx.login, $phone/$encryptedData/
// $iv (and a new $login from login_code_after) from tap. Only fields present (strings) are taken;
// a tap forgets the previous tap's $phone/$encryptedData/$iv first (a deny has none of them).
func remember(memory map[string]string, path string, value json.RawMessage) {
	p := strings.TrimRight(strings.SplitN(path, "?", 2)[0], "/")
	var v struct {
		Code           any `json:"code"`
		LoginCodeAfter any `json:"login_code_after"`
		Detail         *struct {
			Code          any `json:"code"`
			EncryptedData any `json:"encryptedData"`
			IV            any `json:"iv"`
		} `json:"detail"`
	}
	if json.Unmarshal(value, &v) != nil {
		return
	}
	take := func(name string, x any) {
		if s, ok := x.(string); ok {
			memory[name] = s
		}
	}
	if strings.HasSuffix(p, "/wx.login") {
		take("$login", v.Code)
	} else if strings.HasSuffix(p, "/tap") {
		for _, name := range []string{"$phone", "$encryptedData", "$iv"} { // this tap's, not an older one's
			delete(memory, name)
		}
		if v.Detail != nil {
			take("$phone", v.Detail.Code)
			take("$encryptedData", v.Detail.EncryptedData)
			take("$iv", v.Detail.IV)
		}
		take("$login", v.LoginCodeAfter)
	}
}

// resolve looks a value starting with $ up among what page ops remembered.
func resolve(memory map[string]string, index int, v string) (string, error) {
	if !strings.HasPrefix(v, "$") {
		return v, nil
	}
	if s, ok := memory[v]; ok {
		return s, nil
	}
	var known []string
	for k := range memory {
		known = append(known, k)
	}
	sort.Strings(known)
	if len(known) == 0 {
		known = []string{"none"}
	}
	return "", fmt.Errorf("op %d: unknown placeholder %s (remembered: %s)", index, v, strings.Join(known, ", "))
}

type liveRow struct {
	Index    int             `json:"index"`
	Op       string          `json:"op"`
	Call     string          `json:"call"`
	Outcome  string          `json:"outcome"`
	Value    json.RawMessage `json:"value,omitempty"`
	Errcode  *int64          `json:"errcode"`
	Detail   string          `json:"detail"`
	Requests int64           `json:"requests"`
}

var errcodeRe = regexp.MustCompile(`errcode"?\s*[:=]\s*(-?\d+)`)

func errcodeOf(err error) *int64 {
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return &ce.ErrCode
	}
	if m := errcodeRe.FindStringSubmatch(err.Error()); m != nil { // Code2Session's fmt.Errorf
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return &n
	}
	return nil
}

func liveMode(raw []byte) (any, error) {
	var spec liveSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimRight(spec.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("bad base_url %q", spec.BaseURL)
	}
	rt := &redirect{base: base}
	util.DefaultHTTPClient = &http.Client{Transport: rt}
	mp := newMiniProgram(spec.AppID, spec.Secret) // memory cache: token kept for expires_in-1500 s
	var lastSessionKey string
	memory := map[string]string{} // placeholder -> value, filled by page ops
	out := []liveRow{}

	run := func(index int, op, call string, fn func() (any, error)) liveRow {
		rt.count.Store(0)
		row := liveRow{Index: index, Op: op, Call: call}
		type res struct {
			v   any
			err error
		}
		done := make(chan res, 1)
		go func() {
			v, err := guardedAny(fn)
			done <- res{v, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				row.Outcome, row.Errcode, row.Detail = "error", errcodeOf(r.err), detail(r.err)
			} else {
				row.Outcome = "ok"
				row.Value, _ = json.Marshal(r.v)
			}
		case <-time.After(opTimeout):
			row.Outcome, row.Detail = "error", fmt.Sprintf("GuardError: op still running after %v", opTimeout)
		}
		row.Requests = rt.count.Load()
		out = append(out, row)
		return row
	}

	for index, rawOp := range spec.Ops {
		var op liveOp
		if err := json.Unmarshal(rawOp, &op); err != nil {
			return nil, fmt.Errorf("op %d: %v", index, err)
		}
		// Placeholders in login/phone code and decrypt iv/encryptedData; an unknown one is a harness error.
		switch op.Op {
		case "login", "phone":
			if op.Code, err = resolve(memory, index, op.Code); err != nil {
				return nil, err
			}
		case "decrypt":
			if op.IV, err = resolve(memory, index, op.IV); err != nil {
				return nil, err
			}
			if op.EncryptedData, err = resolve(memory, index, op.EncryptedData); err != nil {
				return nil, err
			}
		}
		switch op.Op {
		case "token":
			run(index, op.Op, "silenceper GetContext().GetAccessToken", func() (any, error) {
				return mp.GetContext().GetAccessToken()
			})
		case "login":
			// No access_token on this call; an errcode in the answer becomes a fmt error.
			row := run(index, op.Op, "silenceper GetAuth().Code2Session", func() (any, error) {
				r, err := mp.GetAuth().Code2Session(op.Code)
				if err != nil {
					return nil, err
				}
				v := map[string]string{"openid": r.OpenID, "session_key": r.SessionKey}
				if r.UnionID != "" {
					v["unionid"] = r.UnionID
				}
				return v, nil
			})
			if row.Outcome == "ok" {
				var v map[string]string
				_ = json.Unmarshal(row.Value, &v)
				lastSessionKey = v["session_key"]
			}
		case "phone":
			run(index, op.Op, "silenceper GetAuth().GetPhoneNumber", func() (any, error) {
				r, err := mp.GetAuth().GetPhoneNumber(op.Code)
				if err != nil {
					return nil, err
				}
				return r.PhoneInfo, nil
			})
		case "decrypt":
			sk := lastSessionKey
			if op.SessionKey != nil {
				sk = *op.SessionKey
			}
			var rs []result
			if sk == "" {
				for _, c := range []string{"silenceper Encryptor.Decrypt", "silenceper GetCipherText"} {
					rs = append(rs, result{call: c, detail: "NoSessionKey: session_key is null and no login op succeeded before"})
				}
			} else {
				rs = decryptAll(mp, sk, op.IV, op.EncryptedData)
			}
			for _, r := range rs {
				row := liveRow{Index: index, Op: op.Op, Call: r.call, Outcome: "error", Detail: r.detail}
				if r.ok {
					row.Outcome = "ok"
					row.Value, _ = json.Marshal(r.plaintext)
				}
				out = append(out, row)
			}
		case "advance":
			// Plain HTTP, not through the library: moves the simulator's clock.
			run(index, op.Op, "http POST /api/v1/clock/advance", func() (any, error) {
				body, _ := json.Marshal(map[string]any{"seconds": op.Seconds})
				c := &http.Client{Timeout: opTimeout}
				res, err := c.Post(base.String()+"/api/v1/clock/advance", "application/json", bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode/100 != 2 {
					return nil, fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
				}
				if len(bytes.TrimSpace(b)) == 0 {
					return nil, nil
				}
				return json.RawMessage(b), nil
			})
		case "page", "http":
			// Plain HTTP, not through the library: a page's API call (page) or another server of
			// the same backend (http, e.g. a token fetched behind the library's back).
			okMethod := false
			for _, m := range pageMethods[op.Op] {
				okMethod = okMethod || m == op.Method
			}
			if !okMethod {
				return nil, fmt.Errorf("op %d: %s method must be one of %s, not %q", index, op.Op, strings.Join(pageMethods[op.Op], "/"), op.Method)
			}
			if op.Path == nil {
				return nil, fmt.Errorf("op %d: %s needs a \"path\"", index, op.Op)
			}
			path := withCredentials(*op.Path, spec.AppID, spec.Secret).(string)
			var body []byte
			if len(op.Body) > 0 && string(bytes.TrimSpace(op.Body)) != "null" {
				var b any
				dec := json.NewDecoder(bytes.NewReader(op.Body))
				dec.UseNumber()
				if err := dec.Decode(&b); err != nil {
					return nil, fmt.Errorf("op %d: body: %v", index, err)
				}
				body, _ = json.Marshal(withCredentials(b, spec.AppID, spec.Secret))
			}
			if op.Method == "GET" && body != nil {
				return nil, fmt.Errorf("op %d: %s GET takes no body", index, op.Op)
			}
			method, kind := op.Method, op.Op
			row := run(index, kind, kind, func() (any, error) { return plainHTTP(method, base.String()+path, body) })
			if kind == "page" && row.Outcome == "ok" {
				remember(memory, path, row.Value)
			}
		default:
			return nil, fmt.Errorf("op %d: unknown op %q", index, op.Op)
		}
	}
	return out, nil
}

func guardedAny(fn func() (any, error)) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "decrypt" && os.Args[1] != "live") {
		fmt.Fprintln(os.Stderr, "usage: check decrypt|live FILE")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	var out any
	if os.Args[1] == "decrypt" {
		out, err = decryptMode(raw)
	} else {
		out, err = liveMode(raw)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "check: bad input %s: %v\n", os.Args[2], err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
}

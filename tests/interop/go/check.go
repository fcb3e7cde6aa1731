// Verdicts on simulator fixtures, computed the way a backend built on the Go library
// github.com/smartwalle/alipay/v3 would: the whole envelope text goes to
// Client.DecodePhoneNumber, which splits it, decrypts and verifies with the library's own
// code. Nothing of that is reimplemented here; the harness only finds the envelope in the
// fixture, watches which stage the library reached (its OnReceivedData hook fires between
// decryption and verification) and names the verdict.
//
// Usage: check DIR   -> prints a JSON array of verdicts on stdout.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	alipay "github.com/smartwalle/alipay/v3"
)

type fixture struct {
	Scenario        string          `json:"scenario"`
	AppID           string          `json:"app_id"`
	AlipayPublicKey *string         `json:"alipay_public_key"`
	AESKey          *string         `json:"aes_key"`
	SignType        *string         `json:"sign_type"`
	Callback        string          `json:"callback"`
	Payload         json.RawMessage `json:"payload"`
}

type row struct {
	Scenario  string          `json:"scenario"`
	SDK       string          `json:"sdk"`
	Verdict   string          `json:"verdict"`
	Plaintext json.RawMessage `json:"plaintext"`
	Detail    string          `json:"detail"`
}

type verdict struct {
	verdict   string
	plaintext json.RawMessage // a JSON object, or nil for null
	detail    string
}

func v(name, detail string) verdict { return verdict{verdict: name, detail: detail} }

// delivery is what the backend hands the library: the envelope text (DecodePhoneNumber takes
// it whole and finds content and sign in it itself), whether it carries a sign (only to name
// the verdict), and the sign type the app is configured with (reported only: the library
// always verifies RSA2, SHA-256).
type delivery struct {
	envelope []byte
	signed   bool
	signType string
}

// extract finds (content, sign, signType) in a fixture's payload: the one place that knows
// payload shapes. An unknown shape is a reject-parse, with a detail.
func extract(fx *fixture) (delivery, *verdict) {
	var payload map[string]json.RawMessage
	if json.Unmarshal(fx.Payload, &payload) != nil || payload == nil {
		r := v("reject-parse", "payload is not an object")
		return delivery{}, &r
	}
	signType := "RSA2"
	if fx.SignType != nil && *fx.SignType != "" {
		signType = *fx.SignType
	}
	if raw, ok := payload["response"]; ok {
		// res.response as sent: the envelope text.
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			r := v("reject-parse", "payload.response is not a string")
			return delivery{}, &r
		}
		var env map[string]json.RawMessage
		signed := false
		if json.Unmarshal([]byte(text), &env) == nil {
			_, signed = env["sign"]
		}
		return delivery{envelope: []byte(text), signed: signed, signType: signType}, nil
	}
	if raw, ok := payload["encryptedData"]; ok {
		// Split fields {encryptedData, sign}: the backend rebuilds the envelope the library
		// takes, so the content becomes a JSON string again (its quotes re-added).
		var content string
		if err := json.Unmarshal(raw, &content); err != nil {
			r := v("reject-parse", "payload.encryptedData is not a string")
			return delivery{}, &r
		}
		env := map[string]string{"response": content}
		signed := false
		if rawSign, ok := payload["sign"]; ok {
			var sign string
			if err := json.Unmarshal(rawSign, &sign); err != nil {
				r := v("reject-parse", "payload.sign is not a string")
				return delivery{}, &r
			}
			env["sign"], signed = sign, true
		}
		text, err := json.Marshal(env)
		if err != nil {
			r := v("reject-parse", fmt.Sprintf("rebuilding the envelope: %v", err))
			return delivery{}, &r
		}
		return delivery{envelope: text, signed: signed, signType: signType}, nil
	}
	keys := make([]string, 0, len(payload))
	for k := range payload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := v("reject-parse", fmt.Sprintf("unknown payload shape (keys: %s)", strings.Join(keys, ", ")))
	return delivery{}, &r
}

// New insists on an app private key although DecodePhoneNumber never signs anything.
var appPrivateKey = func() string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}()

type clientKey struct{ appID, publicKey, aesKey string }

var clients = map[clientKey]*alipay.Client{}

// clientFor configures a client as a backend would: the Alipay public key (when the app has
// one) and the AES key (when set). Sandbox mode (production false), so the library never
// downloads an Alipay certificate.
func clientFor(fx *fixture) (*alipay.Client, *verdict) {
	var k clientKey
	k.appID = fx.AppID
	if k.appID == "" {
		k.appID = "2021000000000000" // required by New, unused by DecodePhoneNumber
	}
	if fx.AlipayPublicKey != nil {
		k.publicKey = *fx.AlipayPublicKey
	}
	if fx.AESKey != nil {
		k.aesKey = *fx.AESKey
	}
	if c, ok := clients[k]; ok {
		return c, nil
	}
	c, err := alipay.New(k.appID, appPrivateKey, false)
	if err != nil {
		r := v("reject-signature", fmt.Sprintf("alipay.New: %v", err))
		return nil, &r
	}
	if k.publicKey != "" {
		if err := c.LoadAliPayPublicKey(k.publicKey); err != nil {
			r := v("reject-signature", fmt.Sprintf("LoadAliPayPublicKey: %v", err))
			return nil, &r
		}
	}
	if err := c.SetEncryptKey(k.aesKey); err != nil {
		r := v("reject-decrypt", fmt.Sprintf("SetEncryptKey: %v", err))
		return nil, &r
	}
	clients[k] = c
	return c, nil
}

func isJSONError(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}

// decode runs DecodePhoneNumber; decrypted is the plaintext the library handed its
// OnReceivedData hook (nil if it never got that far). A panic inside the library is an error.
func decode(c *alipay.Client, envelope []byte) (result *alipay.MobileNumber, decrypted []byte, err error) {
	c.OnReceivedData(func(_ context.Context, _ string, data []byte) {
		decrypted = append([]byte{}, data...)
	})
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked: %v", p)
		}
	}()
	result, err = c.DecodePhoneNumber(context.Background(), string(envelope))
	return result, decrypted, err
}

func judge(fx *fixture) verdict {
	if fx.Callback != "success" {
		return v("front-end", fmt.Sprintf("callback %s: nothing reached the backend", fx.Callback))
	}
	d, bad := extract(fx)
	if bad != nil {
		return *bad
	}
	c, bad := clientFor(fx)
	if bad != nil {
		return *bad
	}
	result, decrypted, err := decode(c, d.envelope)
	if decrypted == nil {
		// The library stopped before or while decrypting.
		var apiErr *alipay.Error
		switch {
		case err == nil:
			return v("reject-decrypt", "DecodePhoneNumber returned no error but decrypted nothing")
		case errors.Is(err, alipay.ErrBadResponse):
			return v("reject-parse", fmt.Sprintf("DecodePhoneNumber: %v (no \"response\" key)", err))
		case isJSONError(err):
			return v("reject-parse", fmt.Sprintf("DecodePhoneNumber: %v", err))
		case errors.As(err, &apiErr):
			return v("reject-parse", fmt.Sprintf("DecodePhoneNumber: error_response %v", err))
		default:
			return v("reject-decrypt", fmt.Sprintf("DecodePhoneNumber (decrypting): %v", err))
		}
	}
	if err != nil {
		var apiErr *alipay.Error
		switch {
		case errors.As(err, &apiErr) || !d.signed:
			// With no sign the library refuses the content, giving it back as an *alipay.Error.
			return v("unsigned", fmt.Sprintf("envelope has no \"sign\"; DecodePhoneNumber: %v", err))
		case isJSONError(err):
			return v("reject-decrypt", fmt.Sprintf("decrypted text %q is not a MobileNumber: %v", head(decrypted), err))
		default:
			return v("reject-signature", fmt.Sprintf("DecodePhoneNumber (verifying, SHA-256 whatever sign_type %s says): %v", d.signType, err))
		}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(decrypted, &obj) != nil || obj == nil {
		return v("reject-decrypt", fmt.Sprintf("decrypted JSON %q is not an object", head(decrypted)))
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, decrypted); err != nil {
		return v("reject-decrypt", fmt.Sprintf("decrypted JSON: %v", err))
	}
	return verdict{
		verdict:   "accept",
		plaintext: compact.Bytes(),
		detail:    fmt.Sprintf("signature ok (SHA-256), content decoded: code %s", result.Code),
	}
}

func head(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: check DIR")
	}
	dir := os.Args[1]
	entries, err := os.ReadDir(dir)
	if err != nil {
		fail("cannot read fixture directory %s: %v", dir, err)
	}
	rows := []row{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || name == "index.json" || name == "keys.json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			fail("cannot read fixture %s: %v", name, err)
		}
		var fx fixture
		if err := json.Unmarshal(data, &fx); err != nil {
			fail("cannot read fixture %s: %v", name, err)
		}
		scenario := fx.Scenario
		if scenario == "" {
			scenario = strings.TrimSuffix(name, ".json")
		}
		got := judge(&fx)
		plaintext := got.plaintext
		if plaintext == nil {
			plaintext = json.RawMessage("null")
		}
		rows = append(rows, row{Scenario: scenario, SDK: "go", Verdict: got.verdict, Plaintext: plaintext, Detail: got.detail})
	}
	// Plain byte order, as the other checkers sort.
	sort.Slice(rows, func(i, j int) bool { return rows[i].Scenario < rows[j].Scenario })
	// One verdict per line: valid JSON that still diffs and reads well.
	var out bytes.Buffer
	if len(rows) == 0 {
		out.WriteString("[]\n")
	} else {
		out.WriteString("[\n")
		for i, r := range rows {
			var line bytes.Buffer
			enc := json.NewEncoder(&line)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(r); err != nil {
				fail("cannot encode the row of %s: %v", r.Scenario, err)
			}
			out.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
			if i < len(rows)-1 {
				out.WriteString(",")
			}
			out.WriteString("\n")
		}
		out.WriteString("]\n")
	}
	os.Stdout.Write(out.Bytes())
}

// A login against the simulator's gateway through the Go library github.com/smartwalle/alipay/v3
// (v3.2.30, pinned in ../../go.mod): Client.SystemOauthToken with grant_type/code on a production
// client whose gateway is the simulator's /gateway.do (WithProductionGateway) and which has the
// app's Alipay public key loaded (LoadAliPayPublicKey), so the library verifies answers itself.
// All signing and verifying are the library's. It is a second command of the interop module,
// built by ../../../setup.sh into go/bin/gateway_login.
//
// Usage: gateway_login FILE, FILE being
//
//	{"gateway", "appId", "privateKey" (PKCS#1 PEM), "alipayPublicKey", "code"}
//
// Prints {"ok": {...SystemOauthTokenRsp with its own JSON tags..., "is_success"}} or
// {"error": {"name", "message", "code", "sub_code", "sub_msg"}} on stdout. "is_success" is the
// library's SystemOauthTokenRsp.IsSuccess(), which demands a user_id (so it is false for an
// openid-only answer even though SystemOauthToken returned no error). An error the library
// returns as *alipay.Error (an error_response, or a method response carrying no sign) is named
// "alipay.Error" with its code/msg/sub_code/sub_msg; any other error (sign verify failed,
// transport, JSON) is named by its Go type.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	alipay "github.com/smartwalle/alipay/v3"
)

type config struct {
	Gateway         string `json:"gateway"`
	AppID           string `json:"appId"`
	PrivateKey      string `json:"privateKey"`
	AlipayPublicKey string `json:"alipayPublicKey"`
	Code            string `json:"code"`
}

type failure struct {
	Name    string  `json:"name"`
	Message string  `json:"message"`
	Code    *string `json:"code"`
	SubCode *string `json:"sub_code"`
	SubMsg  *string `json:"sub_msg"`
}

func str(s string) *string { return &s }

func fail(err error) failure {
	var ae *alipay.Error
	if errors.As(err, &ae) {
		return failure{Name: "alipay.Error", Message: ae.Msg, Code: str(string(ae.Code)), SubCode: str(ae.SubCode), SubMsg: str(ae.SubMsg)}
	}
	return failure{Name: fmt.Sprintf("%T", err), Message: err.Error()}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gateway_login FILE")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	out := map[string]any{}
	client, err := alipay.New(c.AppID, c.PrivateKey, true, alipay.WithProductionGateway(c.Gateway))
	if err == nil {
		err = client.LoadAliPayPublicKey(c.AlipayPublicKey)
	}
	if err == nil {
		var rsp *alipay.SystemOauthTokenRsp
		rsp, err = client.SystemOauthToken(context.Background(), alipay.SystemOauthToken{
			GrantType: "authorization_code",
			Code:      c.Code,
		})
		if err == nil {
			var ok map[string]any
			b, _ := json.Marshal(rsp)
			_ = json.Unmarshal(b, &ok)
			ok["is_success"] = rsp.IsSuccess()
			out["ok"] = ok
		}
	}
	if err != nil {
		out["error"] = fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}

/*
 * alipay-sim's stand-in for the WeChat mini-program `wx` API in a browser preview (an H5 build,
 * a Taro/uni-app web target). Include it with the simulator's URL and the app's appid:
 *
 *   <script src="http://127.0.0.1:8086/sdk/wx.js?app_id=wx0123456789abcdef"></script>
 *
 * (or `data-app-id="wx..."` on the tag). The simulator's base URL is the script's own origin
 * (`data-simulator` overrides it). It defines `wx` and no other global:
 *
 *   wx.login({success, fail, complete})         success({errMsg: "login:ok", code})
 *   wx.checkSession({success, fail, complete})  success({errMsg: "checkSession:ok"}) or
 *                                               fail({errMsg: "checkSession:fail ..."})
 *   wx.request({url, method, data, header, dataType, success, fail, complete})
 *       fetch: GET puts an object `data` in the query; other methods send it as JSON (or as
 *       key=value pairs under a form content type), a string as it is. success({data,
 *       statusCode, header, errMsg: "request:ok"}); fail({errMsg: "request:fail ..."}).
 *   wx.simulator.phoneButton(element, {type, bind, baseLibrary, devtools, loginInCallback})
 *       Makes `element` the phone button: `type` "getPhoneNumber" (快速验证, the default) or
 *       "getRealtimePhoneNumber" (实时验证). A click opens WeChat's half-screen sheet (the
 *       app's number masked, 允许 / 拒绝, the privacy agreement's 同意 / 拒绝); the answer goes to
 *       the simulator (POST /api/v1/wechat/apps/{appid}/tap) and `bind({type, detail})` gets
 *       e.detail, as bindgetphonenumber would. `baseLibrary` (default "3.4.0"): the code
 *       arrives from 2.21.2, the real-time button needs 2.24.4 (older: no event, bind is not
 *       called). `devtools`: DevTools' deny text. `loginInCallback`: the handler's wx.login,
 *       which rotates the session key. Escape or a click on the backdrop closes the sheet and
 *       calls nothing. Returns {detach()}.
 *   wx.simulator.appId, wx.simulator.base  what the script found.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var src = script ? new URL(script.src, location.href) : null;
  var base = (script && script.dataset.simulator) || (src ? src.origin : "");
  var appId = (src && src.searchParams.get("app_id")) || (script && script.dataset.appId) || "";
  var api = base + "/api/v1/wechat/apps/" + encodeURIComponent(appId);

  function finish(options, name, value) {
    if (typeof options[name] === "function") options[name](value);
    if (typeof options.complete === "function") options.complete(value);
  }

  // A call of the page's own to the simulator: JSON both ways (a JSON body is what a page of
  // another origin may send; the simulator refuses the rest).
  function call(path, body) {
    if (!appId) return Promise.reject(new Error("alipay-sim: wx.js needs ?app_id=wx... on its script tag"));
    var headers = { "Content-Type": "application/json" };
    // A shared simulator (started with an admin token) wants it: data-admin-token.
    if (script && script.dataset.adminToken) headers.Authorization = "Bearer " + script.dataset.adminToken;
    return fetch(api + path, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (json) {
        if (response.ok) return json;
        var reason = json && json.error ? json.error.message : "HTTP " + response.status;
        throw new Error("alipay-sim at " + base + ", app " + JSON.stringify(appId) + ": " + reason);
      });
    });
  }

  function failed(options, name, error) {
    var message = String(error && error.message ? error.message : error);
    console.error(message);
    finish(options, "fail", { errMsg: name + ":fail " + message });
  }

  function queryString(data) {
    return Object.keys(data).map(function (key) {
      var value = data[key];
      if (value !== null && typeof value === "object") value = JSON.stringify(value);
      return encodeURIComponent(key) + "=" + encodeURIComponent(value === undefined ? "" : value);
    }).join("&");
  }

  function request(options) {
    options = options || {};
    var method = (options.method || "GET").toUpperCase();
    var headers = Object.assign({}, options.header || {});
    var typeKey = Object.keys(headers).filter(function (k) { return k.toLowerCase() === "content-type"; })[0];
    if (!typeKey) { typeKey = "content-type"; headers[typeKey] = "application/json"; }
    var form = String(headers[typeKey]).toLowerCase().indexOf("application/x-www-form-urlencoded") === 0;
    var url = options.url;
    var init = { method: method, headers: headers };
    var data = options.data;
    if (data !== undefined && data !== null) {
      if (method === "GET" || method === "HEAD") {
        var query = typeof data === "string" ? data : queryString(data);
        if (query) url += (url.indexOf("?") >= 0 ? "&" : "?") + query;
      } else if (typeof data === "string") {
        init.body = data;
      } else {
        init.body = form ? queryString(data) : JSON.stringify(data);
      }
    }
    if (init.body === undefined) delete headers[typeKey];
    fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = text;
        if (options.dataType === undefined || options.dataType === "json") {
          try { parsed = JSON.parse(text); } catch (e) { /* not JSON: keep the text */ }
        }
        var headersOut = {};
        response.headers.forEach(function (value, key) { headersOut[key] = value; });
        finish(options, "success", { data: parsed, statusCode: response.status, header: headersOut, errMsg: "request:ok" });
      });
    }).catch(function (error) {
      finish(options, "fail", { errMsg: "request:fail " + error });
    });
  }

  var sheetCount = 0;

  // WeChat's half-screen sheet as a modal dialog (the shared alipaySimDialog): focus on 允许;
  // resolves {choice, privacyDisagree}, or null when dismissed.
  function phoneSheet() {
    return new Promise(function (resolve) {
      sheetCount += 1;
      var id = "wx-sim-sheet-" + sheetCount;
      var backdrop = document.createElement("div");
      backdrop.id = "wx-sim-sheet";
      backdrop.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:flex-end;z-index:2147483647;font-family:system-ui,sans-serif";
      var sheet = document.createElement("div");
      sheet.setAttribute("role", "dialog");
      sheet.setAttribute("aria-modal", "true");
      sheet.setAttribute("aria-labelledby", id + "-title");
      sheet.style.cssText = "background:#fff;color:#1d2330;width:100%;max-width:480px;margin:0 auto;border-radius:16px 16px 0 0;padding:20px;outline:none";
      sheet.innerHTML =
        '<h3 style="margin:0 0 8px"></h3><p style="margin:0 0 12px">获取你的手机号<br><strong data-mobile></strong> <span style="color:#5d6675">微信绑定号码</span></p>' +
        '<fieldset style="border:1px solid #dde1e7;border-radius:8px;margin:0 0 12px;padding:8px 12px"><legend>《用户隐私保护指引》</legend>' +
        '<label><input type="radio" name="' + id + '-privacy" value="agree" data-privacy="agree" checked> 同意</label> ' +
        '<label><input type="radio" name="' + id + '-privacy" value="disagree" data-privacy="disagree"> 拒绝</label></fieldset>' +
        '<div style="display:grid;grid-template-columns:1fr 1fr;gap:10px">' +
        '<button type="button" data-choice="deny" style="padding:10px;border-radius:6px;border:1px solid #d0d4da;background:#f0f2f5;color:#1d2330;font:inherit">拒绝</button>' +
        '<button type="button" data-choice="allow" style="padding:10px;border-radius:6px;border:1px solid #06ad56;background:#057a3d;color:#fff;font:inherit">允许</button>' +
        "</div>";
      var title = sheet.querySelector("h3");
      title.id = id + "-title";
      title.textContent = "小程序 申请";
      sheet.querySelector("[data-mobile]").textContent = (wxSimSheet && wxSimSheet.masked) || "（未绑定手机号）";
      backdrop.appendChild(sheet);
      document.body.appendChild(backdrop);
      var disagree = sheet.querySelector("[data-privacy=disagree]");
      var dialog = alipaySimDialog.open(backdrop, {
        initialFocus: sheet.querySelector("[data-choice=allow]"),
        remove: true,
        onClose: function (reason) {
          resolve(reason === "dismiss" ? null : { choice: reason, privacyDisagree: disagree.checked });
        },
      });
      sheet.addEventListener("click", function (event) {
        var choice = event.target.getAttribute("data-choice");
        if (choice) dialog.close(choice);
      });
    });
  }

  function phoneButton(element, options) {
    options = options || {};
    var realtime = options.type === "getRealtimePhoneNumber";
    function onClick(event) {
      event.preventDefault();
      phoneSheet().then(function (answer) {
        if (answer === null) return null;
        return call("/tap", {
          button: realtime ? "realtime" : "phone",
          choice: answer.choice,
          base_library: options.baseLibrary || "3.4.0",
          devtools: !!options.devtools,
          privacy_disagree: answer.privacyDisagree,
          login_in_callback: !!options.loginInCallback,
        });
      }).then(function (result) {
        // No event when the base library does not know the button (detail null).
        if (!result || result.detail === null) return;
        if (typeof options.bind === "function") {
          options.bind({ type: realtime ? "getrealtimephonenumber" : "getphonenumber", detail: result.detail });
        }
      }).catch(function (error) {
        console.error(String(error && error.message ? error.message : error));
      });
    }
    element.addEventListener("click", onClick);
    return { detach: function () { element.removeEventListener("click", onClick); } };
  }

  window.wx = {
    login: function (options) {
      options = options || {};
      call("/wx.login").then(function (res) { finish(options, "success", res); })
        .catch(function (error) { failed(options, "login", error); });
    },
    checkSession: function (options) {
      options = options || {};
      call("/wx.checkSession").then(function (res) {
        finish(options, /:ok$/.test(res.errMsg) ? "success" : "fail", res);
      }).catch(function (error) { failed(options, "checkSession", error); });
    },
    request: request,
    simulator: { phoneButton: phoneButton, appId: appId, base: base },
  };
})();

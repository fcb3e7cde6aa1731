/*
 * alipay-sim's stand-in for the mini-program `my` API in a browser preview (H5 build,
 * Taro/uni-app web target). Include it with the simulator's URL and an app id:
 *
 *   <script src="http://127.0.0.1:8086/sdk/my.js" data-app-id="2021..."></script>
 *
 * A simulator started with an admin token wants it: add data-admin-token="..." to the tag.
 *
 * my.getAuthCode({scopes}) answers auth_base silently and shows Alipay's authorisation sheet for
 * auth_user (同意 → success {authCode, authSuccessScopes, authErrorScopes}; 拒绝 → fail 11;
 * dismissed → fail 3), each code logging in the user of the app's device session.
 *
 * my.getPhoneNumber shows Alipay's consent sheet as a modal overlay with the app's masked
 * number (none once the user has authorised), then answers with the simulator's real envelope
 * through success/fail, as the phone would; a dismissed sheet (Escape, the backdrop) calls
 * nothing. An unknown data-app-id fails (fail callback and console.error) before any sheet. With
 * `frontEnd: "button"` (or "taro") it also calls `options.onGetPhoneNumber(event)` with the
 * 2.8.0+ button's split envelope; with "uni-app", `options.getphonenumber(event)`.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = (script && script.dataset.simulator) || (script ? new URL(script.src).origin : "");
  var appId = script && script.dataset.appId;
  // A shared simulator (started with an admin token) wants it: data-admin-token.
  var adminToken = script && script.dataset.adminToken;
  function simulatorHeaders(headers) {
    headers = headers || {};
    if (adminToken) headers.Authorization = "Bearer " + adminToken;
    return headers;
  }
  var supported = ["getAuthCode", "getPhoneNumber", "button.open-type.getAuthorize", "request", "httpRequest", "canIUse"];

  function finish(options, name, value) {
    if (typeof options[name] === "function") options[name](value);
    if (typeof options.complete === "function") options.complete(value);
  }

  // An object as a query string (or a form body): key=value pairs, percent-encoded.
  function queryString(data) {
    return Object.keys(data).map(function (key) {
      var value = data[key];
      if (value !== null && typeof value === "object") value = JSON.stringify(value);
      return encodeURIComponent(key) + "=" + encodeURIComponent(value === undefined ? "" : value);
    }).join("&");
  }

  // my.request and my.httpRequest. A GET carries `data` in the query string (my.request's default
  // method is GET): an object as key=value pairs, a string as it is. Other methods carry it in
  // the body: a string as it is, whatever the content type (so `data: res.response` under a form
  // type arrives unencoded, `+` and all), an object as JSON, or as key=value pairs for a form.
  function send(options, defaultType) {
    options = options || {};
    var method = (options.method || "GET").toUpperCase();
    var headers = Object.assign({}, options.headers || {});
    var typeKey = Object.keys(headers).filter(function (k) { return k.toLowerCase() === "content-type"; })[0];
    if (!typeKey) { typeKey = "Content-Type"; headers[typeKey] = defaultType; }
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
        try { parsed = JSON.parse(text); } catch (e) { /* not JSON: keep the text */ }
        var headersOut = {};
        response.headers.forEach(function (value, key) { headersOut[key] = value; });
        finish(options, "success", { data: parsed, status: response.status, headers: headersOut });
      });
    }).catch(function (error) {
      finish(options, "fail", { error: 19, errorMessage: String(error) });
    });
  }

  // What the consent sheet shows for the app (its masked number, whether the user already
  // authorised), read before the sheet opens: an unknown app fails here, with no sheet.
  function sheetInfo() {
    return fetch(base + "/api/v1/apps/" + encodeURIComponent(appId) + "/consent-sheet", { headers: simulatorHeaders() }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) return body;
        var reason = body && body.error ? body.error.message : "HTTP " + response.status;
        var error = new Error("alipay-sim: the simulator at " + base + " has no app " + JSON.stringify(appId) +
          " (data-app-id on the my.js script tag): " + reason);
        error.known = true;
        throw error;
      });
    });
  }

  var sheetCount = 0;

  // Alipay's consent sheet as a modal dialog (the shared alipaySimDialog): focus on 允许, so
  // Enter allows; Escape or a click on the backdrop dismisses it, which resolves null: the page
  // gets no call and no callback (the spec says nothing of a dismissed sheet).
  function consentSheet(mobile) {
    return new Promise(function (resolve) {
      sheetCount += 1;
      var titleId = "alipay-sim-sheet-title-" + sheetCount;
      var backdrop = document.createElement("div");
      backdrop.id = "alipay-sim-sheet";
      backdrop.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:flex-end;z-index:2147483647;font-family:system-ui,sans-serif";
      var sheet = document.createElement("div");
      sheet.setAttribute("role", "dialog");
      sheet.setAttribute("aria-modal", "true");
      sheet.setAttribute("aria-labelledby", titleId);
      sheet.style.cssText = "background:#fff;color:#1d2330;width:100%;max-width:480px;margin:0 auto;border-radius:16px 16px 0 0;padding:20px;outline:none";
      sheet.innerHTML =
        '<h3 style="margin:0 0 8px"></h3><p style="margin:0 0 16px">该小程序申请获取你的手机号<br><strong data-mobile></strong></p>' +
        '<div style="display:grid;grid-template-columns:1fr 1fr;gap:10px">' +
        '<button type="button" data-choice="refuse" style="padding:10px;border-radius:6px;border:1px solid #d0d4da;background:#f0f2f5;color:#1d2330;font:inherit">拒绝</button>' +
        '<button type="button" data-choice="consent" style="padding:10px;border-radius:6px;border:1px solid #0958d9;background:#0958d9;color:#fff;font:inherit">允许</button>' +
        "</div>";
      var title = sheet.querySelector("h3");
      title.id = titleId;
      title.textContent = "授权提示";
      sheet.querySelector("[data-mobile]").textContent = mobile || "（未绑定手机号）";
      backdrop.appendChild(sheet);
      document.body.appendChild(backdrop);
      var dialog = alipaySimDialog.open(backdrop, {
        initialFocus: sheet.querySelector("[data-choice=consent]"),
        remove: true,
        onClose: function (reason) { resolve(reason === "dismiss" ? null : reason); },
      });
      sheet.addEventListener("click", function (event) {
        var choice = event.target.getAttribute("data-choice");
        if (choice) dialog.close(choice);
      });
    });
  }

  // The sheet auth_user shows: 同意 or 拒绝; Escape or the backdrop closes it ("close").
  function authSheet() {
    return new Promise(function (resolve) {
      sheetCount += 1;
      var titleId = "alipay-sim-auth-title-" + sheetCount;
      var backdrop = document.createElement("div");
      backdrop.id = "alipay-sim-auth-sheet";
      backdrop.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:flex-end;z-index:2147483647;font-family:system-ui,sans-serif";
      var sheet = document.createElement("div");
      sheet.setAttribute("role", "dialog");
      sheet.setAttribute("aria-modal", "true");
      sheet.setAttribute("aria-labelledby", titleId);
      sheet.style.cssText = "background:#fff;color:#1d2330;width:100%;max-width:480px;margin:0 auto;border-radius:16px 16px 0 0;padding:20px;outline:none";
      sheet.innerHTML =
        '<h3 style="margin:0 0 8px"></h3><p style="margin:0 0 16px">该小程序申请获取你的公开信息（昵称、头像等）</p>' +
        '<div style="display:grid;grid-template-columns:1fr 1fr;gap:10px">' +
        '<button type="button" data-choice="deny" style="padding:10px;border-radius:6px;border:1px solid #d0d4da;background:#f0f2f5;color:#1d2330;font:inherit">拒绝</button>' +
        '<button type="button" data-choice="allow" style="padding:10px;border-radius:6px;border:1px solid #0958d9;background:#0958d9;color:#fff;font:inherit">同意</button>' +
        "</div>";
      var title = sheet.querySelector("h3");
      title.id = titleId;
      title.textContent = "授权提示";
      backdrop.appendChild(sheet);
      document.body.appendChild(backdrop);
      var dialog = alipaySimDialog.open(backdrop, {
        initialFocus: sheet.querySelector("[data-choice=allow]"),
        remove: true,
        onClose: function (reason) { resolve(reason === "dismiss" ? "close" : reason); },
      });
      sheet.addEventListener("click", function (event) {
        var choice = event.target.getAttribute("data-choice");
        if (choice) dialog.close(choice);
      });
    });
  }

  window.my = {
    canIUse: function (name) {
      return supported.indexOf(name) >= 0;
    },
    getAuthCode: function (options) {
      options = options || {};
      if (!appId) {
        finish(options, "fail", { error: 2, errorMessage: "alipay-sim: my.js needs data-app-id" });
        return;
      }
      var scopes = options.scopes || "auth_base";
      var list = Array.isArray(scopes) ? scopes : [scopes];
      var silent = list.every(function (scope) { return scope === "auth_base"; });
      (silent ? Promise.resolve("allow") : authSheet()).then(function (action) {
        return fetch(base + "/api/v1/apps/" + encodeURIComponent(appId) + "/my.getAuthCode", {
          method: "POST",
          headers: simulatorHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify({ scopes: scopes, action: action }),
        }).then(function (response) { return response.json(); });
      }).then(function (result) {
        if (result.authCode) {
          finish(options, "success", result);
        } else if (typeof result.error === "number") {
          finish(options, "fail", result);
        } else {
          var message = result.error ? result.error.message : JSON.stringify(result);
          console.error("alipay-sim: " + message);
          finish(options, "fail", { error: 2, errorMessage: message });
        }
      }).catch(function (error) {
        var message = "alipay-sim unreachable at " + base + ": " + error;
        console.error(message);
        finish(options, "fail", { error: 2, errorMessage: message });
      });
    },
    getPhoneNumber: function (options) {
      options = options || {};
      if (!appId) {
        finish(options, "fail", { error: 2, errorMessage: "alipay-sim: my.js needs data-app-id" });
        return;
      }
      sheetInfo().then(function (info) {
        // Authorised earlier: no sheet, as on the phone.
        return info.authorised ? "consent" : consentSheet(info.mobile);
      }).then(function (action) {
        if (action === null) return null;
        var body = { action: action };
        if (options.protocols) body.protocols = options.protocols;
        // frontEnd "button" | "uni-app" | "taro": the answer's page_event is what that page's
        // handler gets (onGetPhoneNumber's split envelope, uni-app's getphonenumber).
        if (options.frontEnd) body.front_end = options.frontEnd;
        return fetch(base + "/api/v1/apps/" + encodeURIComponent(appId) + "/getPhoneNumber", {
          method: "POST",
          headers: simulatorHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify(body),
        }).then(function (response) { return response.json(); });
      }).then(function (result) {
        if (result === null) return; // the sheet was dismissed: nothing fires
        var pageEvent = result.page_event;
        var frameworkHandler = pageEvent && ["onGetPhoneNumber", "getphonenumber"].indexOf(pageEvent.handler) >= 0;
        if (frameworkHandler && typeof options[pageEvent.handler] === "function") {
          // e.g. options.onGetPhoneNumber(event) or options.getphonenumber(event)
          setTimeout(function () { options[pageEvent.handler](pageEvent.event); }, 0);
        }
        if (result.error) {
          finish(options, "fail", { error: 2, errorMessage: result.error.message });
        } else if (result.callback === "success") {
          finish(options, "success", result.payload);
        } else if (result.callback === "onError") {
          // The refusal reaches the page through the button's onError on a phone.
          finish(options, "fail", result.payload.detail);
        } else {
          finish(options, "fail", result.payload);
        }
      }).catch(function (error) {
        var message = error && error.known ? error.message : "alipay-sim unreachable at " + base + ": " + error;
        console.error(message);
        finish(options, "fail", { error: 2, errorMessage: message });
      });
    },
    request: function (options) {
      send(options, "application/json");
    },
    // The old API: the same, but its default content type was a form's [REQ].
    httpRequest: function (options) {
      send(options, "application/x-www-form-urlencoded");
    },
  };
})();

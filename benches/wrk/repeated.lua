-- getPhoneNumber repeating one catalogue scenario: the envelope is made once and reused.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Alipay-Sim-Scenario"] = "success"
wrk.body = "{}"

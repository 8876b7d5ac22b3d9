// verify.js checks webhooks with the stock standardwebhooks npm package, the
// way a customer's Node.js receiver would. interop_test.go drives it.
//
// Input on stdin, JSON:
//   {"verify": [{"name", "secret", "headers": {...}, "body_base64", "now"?}],
//    "sign":   [{"name", "secret", "id", "timestamp", "body_base64"}]}
// "now", in Unix seconds, replaces Date.now for that case only; without it
// the case is verified against the real clock, as in production.
//
// Output on stdout, JSON:
//   {"verify": [{"name", "ok", "error"}], "sign": [{"name", "signature"}]}
"use strict";

const { Webhook } = require("standardwebhooks");

function verifyCase(c) {
  const realNow = Date.now;
  if (typeof c.now === "number") {
    Date.now = () => c.now * 1000;
  }
  try {
    const wh = new Webhook(c.secret);
    wh.verify(Buffer.from(c.body_base64, "base64"), c.headers);
    return { name: c.name, ok: true, error: "" };
  } catch (e) {
    return { name: c.name, ok: false, error: String(e && e.message ? e.message : e) };
  } finally {
    Date.now = realNow;
  }
}

function signCase(c) {
  const wh = new Webhook(c.secret);
  const body = Buffer.from(c.body_base64, "base64");
  return { name: c.name, signature: wh.sign(c.id, new Date(c.timestamp * 1000), body) };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const out = {
    verify: (req.verify || []).map(verifyCase),
    sign: (req.sign || []).map(signCase),
  };
  process.stdout.write(JSON.stringify(out));
});

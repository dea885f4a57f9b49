// Differential check against panva/jose (issue 17, item 4): valid ES256, RS256 and HS256 tokens are
// mutated (header and payload members, their types, encodings, lengths, signatures), and every token
// goes through `aalgate verify` (the real binary) and jose's `jwtVerify` with the same keys and rules
// (issuer, audience, algorithm, 30 s leeway, a fixed `now`, `exp` required). Verdicts that differ are
// classified by the rule that explains them (STRICTER below, each naming where aalgate's rule is
// documented). The test fails on any token aalgate accepts and jose refuses, and on any disagreement no
// rule explains. Mutated tokens are re-signed with the right key unless the mutation is about the
// signature, so the claim and header rules are what is compared, not only signature checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as jose from "jose";

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const bin = path.join(root, "target/debug/aalgate");
const fixtures = JSON.parse(fs.readFileSync(path.join(root, "tests/conformance/fixtures.json"), "utf8"));

const NOW = 1_793_491_200;
const ISS = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";
const AUD = "authenticated";
const HS_SECRET = "differential-test-secret-of-at-least-32-bytes";

// Where aalgate refuses by design what jose (with these options) accepts: code → the rule, numbered as
// in README's "Verification rules and defaults".
const STRICTER = {
  token_too_large: "rule 1: at most 8,192 bytes, checked before any decoding (jose has no cap)",
  token_malformed: "rules 2-4 and 9: canonical base64url without padding, UTF-8 JSON objects without a BOM, lone surrogates or duplicate members, nesting at most 16, `kid` a string",
  header_forbidden: "rule 4: `crit`, `b64`, `cty` and `zip` are refused (jose ignores `b64: true`, `cty` and `zip` in a JWS)",
  claim_invalid: "rule 10: `exp`/`iat`/`nbf` integer literals in 0…253402300799 (no fractions), `aud` only strings, `sub` a non-empty string, `role` and `session_id` strings, `aal` one of aal1/aal2/aal3, never null",
  claim_missing: "rule 11: `iat` and `sub` are required (so leaving `iat` out cannot dodge max_lifetime)",
  issued_in_future: "rule 11: `iat` at most now + leeway (jose only checks that `iat` is a number)",
  lifetime_too_long: "rule 11: `exp - iat` at most max_lifetime, 86,400 s (jose has no such rule)",
};

function b64(value) {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

const ecPrivate = crypto.createPrivateKey({ key: fixtures.keys.issuer, format: "jwk" });
const ecPublic = Object.fromEntries(Object.entries(fixtures.keys.issuer).filter(([k]) => k !== "d"));
const rsPrivate = crypto.createPrivateKey(fs.readFileSync(path.join(root, "tests/data/rs256_test_key.pem")));
const rsPublic = { ...crypto.createPublicKey(rsPrivate).export({ format: "jwk" }), kid: "diff-rs-1", alg: "RS256", use: "sig" };

const ALGS = {
  ES256: { kid: ecPublic.kid, sign: (data) => crypto.sign("sha256", data, { key: ecPrivate, dsaEncoding: "ieee-p1363" }) },
  RS256: { kid: rsPublic.kid, sign: (data) => crypto.sign("sha256", data, rsPrivate) },
  HS256: { kid: undefined, sign: (data) => crypto.createHmac("sha256", HS_SECRET).update(data).digest() },
};

function baseHeader(alg) {
  const h = { alg, typ: "JWT" };
  if (ALGS[alg].kid) h.kid = ALGS[alg].kid;
  return h;
}
const baseClaims = () => ({ iss: ISS, sub: "6f1c1b8e-0000-4000-8000-0000000000d1", aud: AUD, exp: NOW + 600, iat: NOW - 60, role: "authenticated", aal: "aal1", session_id: "s-1" });

/** A compact JWS of a header and payload (objects, or already-encoded segments with `raw`), signed. */
function token(alg, header, payload, { raw = false } = {}) {
  const h = raw ? header : b64(header);
  const p = raw ? payload : b64(payload);
  const input = `${h}.${p}`;
  return `${input}.${ALGS[alg].sign(Buffer.from(input)).toString("base64url")}`;
}

const N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

/** The mutations of one algorithm's valid token: [name, token]. */
function mutations(alg) {
  const out = [];
  const add = (name, t) => out.push([`${alg} ${name}`, t]);
  const h0 = baseHeader(alg);
  const c0 = baseClaims();
  const valid = token(alg, h0, c0);
  add("valid", valid);
  const claim = (name, value) => add(`${name}=${JSON.stringify(value)}`, token(alg, h0, { ...c0, [name]: value }));
  const without = (name) => { const c = { ...c0 }; delete c[name]; add(`no ${name}`, token(alg, h0, c)); };
  const header = (name, h) => add(`header ${name}`, token(alg, h, c0));

  // Time claims: edges of the leeway, types, extremes.
  for (const exp of [NOW + 1, NOW, NOW - 29, NOW - 30, NOW - 31, NOW - 3600, NOW + 86_400 * 400, 1e20, -1, 0, `${NOW + 600}`, NOW + 600.5, null, true]) claim("exp", exp);
  for (const nbf of [NOW + 29, NOW + 31, NOW - 10, `${NOW}`, NOW + 0.5, null]) claim("nbf", nbf);
  for (const iat of [NOW + 29, NOW + 31, NOW + 3600, `${NOW}`, NOW - 0.5, null, NOW - 86_400 * 2]) claim("iat", iat);
  // Issuer and audience forms.
  for (const iss of [ISS + "/", ISS.toUpperCase(), "", null, 1, [ISS], `${ISS}\u0000`]) claim("iss", iss);
  for (const aud of [[AUD], [AUD, "other"], ["other", AUD], ["other"], [], "Authenticated", null, 1, [1], [AUD, 1]]) claim("aud", aud);
  for (const sub of [1, null, "", ["x"]]) claim("sub", sub);
  for (const role of [1, null, ""]) claim("role", role);
  for (const name of ["exp", "iat", "iss", "aud", "sub", "role", "aal"]) without(name);
  // Payloads that are not one plain JSON object.
  for (const [name, text] of [
    ["array", JSON.stringify([c0])], ["string", JSON.stringify("x")], ["number", "1"], ["empty", ""],
    ["trailing garbage", JSON.stringify(c0) + "x"], ["two objects", JSON.stringify(c0) + JSON.stringify(c0)],
    ["leading BOM", "\ufeff" + JSON.stringify(c0)], ["white space around", ` ${JSON.stringify(c0)} `],
    ["duplicate exp (later expired)", JSON.stringify(c0).replace(/}$/, `,"exp":${NOW - 3600}}`)],
    ["duplicate iss (later wrong)", JSON.stringify(c0).replace(/}$/, `,"iss":"https://evil.example"}`)],
    ["escaped iss (same string)", JSON.stringify(c0).replace('"iss":"https', '"iss":"\\u0068ttps')],
    ["lone surrogate in sub", JSON.stringify(c0).replace('"sub":"', '"sub":"\\ud800')],
    ["invalid UTF-8", Buffer.concat([Buffer.from(JSON.stringify(c0).slice(0, -1) + ',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]).toString("latin1")],
  ]) add(`payload ${name}`, token(alg, b64(h0), Buffer.from(text, name === "invalid UTF-8" ? "latin1" : "utf8").toString("base64url"), { raw: true }));
  // Header members.
  header("typ at+jwt", { ...h0, typ: "at+jwt" });
  header("typ jwt (lower case)", { ...h0, typ: "jwt" });
  header("typ number", { ...h0, typ: 1 });
  header("no typ", (({ typ, ...h }) => h)(h0));
  header("cty JWT (nested)", { ...h0, cty: "JWT" });
  header("crit exp", { ...h0, crit: ["exp"] });
  header("crit empty", { ...h0, crit: [] });
  header("b64 false", { ...h0, b64: false, crit: ["b64"] });
  header("b64 true", { ...h0, b64: true });
  header("embedded jwk", { ...h0, jwk: ecPublic });
  header("jku", { ...h0, jku: "https://evil.example/jwks.json" });
  header("x5u", { ...h0, x5u: "https://evil.example/cert.pem" });
  header("x5c", { ...h0, x5c: ["MIIB"] });
  header("zip DEF", { ...h0, zip: "DEF" });
  header("unknown member", { ...h0, "x-custom": 1 });
  header("kid other", { ...h0, kid: "other-kid" });
  header("kid number", { ...h0, kid: 7 });
  header("kid path injection", { ...h0, kid: "../../../../dev/null" });
  header("alg lower case", { ...h0, alg: alg.toLowerCase() });
  header("alg none", { ...h0, alg: "none" });
  header("alg ES384", { ...h0, alg: "ES384" });
  header("no alg", (({ alg: _, ...h }) => h)(h0));
  add("header duplicate alg (later none)", token(alg, b64(JSON.stringify(h0).replace(/}$/, ',"alg":"none"}')), b64(c0), { raw: true }));
  add("header array", token(alg, b64([h0]), b64(c0), { raw: true }));
  // Encodings of a valid token.
  const [hs, ps, ss] = valid.split(".");
  add("padding on the signature", `${hs}.${ps}.${ss}${"=".repeat((4 - (ss.length % 4)) % 4 || 1)}`);
  add("standard base64 alphabet", `${hs}.${ps}.${Buffer.from(ss, "base64url").toString("base64").replace(/=+$/, "")}`);
  add("white space in the payload segment", `${hs}.${ps.slice(0, 10)} ${ps.slice(10)}.${ss}`);
  add("four segments", `${valid}.x`);
  add("two segments", `${hs}.${ps}`);
  add("empty signature", `${hs}.${ps}.`);
  add("signature one byte short", `${hs}.${ps}.${Buffer.from(ss, "base64url").subarray(1).toString("base64url")}`);
  add("signature one byte long", `${hs}.${ps}.${Buffer.concat([Buffer.from(ss, "base64url"), Buffer.from([0])]).toString("base64url")}`);
  // Non-canonical last character: unused low bits set.
  const last = ss.at(-1), alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const bits = (ss.length * 6) % 8;
  if (bits) add("non-canonical base64url (unused bits set)", `${hs}.${ps}.${ss.slice(0, -1)}${alphabet[alphabet.indexOf(last) | 1]}`);
  const flipped = Buffer.from(ss, "base64url"); flipped[flipped.length - 1] ^= 1;
  add("signature bit flipped", `${hs}.${ps}.${flipped.toString("base64url")}`);
  add("payload re-encoded, old signature", `${hs}.${b64({ ...c0, role: "service_role" })}.${ss}`);
  if (alg === "ES256") {
    const sig = Buffer.from(ss, "base64url");
    const r = sig.subarray(0, 32), s = BigInt(`0x${sig.subarray(32).toString("hex")}`);
    const high = Buffer.from((N - s).toString(16).padStart(64, "0"), "hex");
    add("high-s (malleated) signature", `${hs}.${ps}.${Buffer.concat([r, high]).toString("base64url")}`);
    add("r = s = 0", `${hs}.${ps}.${Buffer.alloc(64).toString("base64url")}`);
    const der = crypto.sign("sha256", Buffer.from(`${hs}.${ps}`), { key: ecPrivate, dsaEncoding: "der" });
    add("DER signature", `${hs}.${ps}.${der.toString("base64url")}`);
    // Algorithm confusion: an HS256 token keyed with the EC public key's JSON.
    const confused = b64({ alg: "HS256", typ: "JWT", kid: ecPublic.kid }) + "." + ps;
    add("alg confusion (HS256 keyed with the EC public key)", `${confused}.${crypto.createHmac("sha256", JSON.stringify(ecPublic)).update(confused).digest("base64url")}`);
  }
  // Seeded random mutations: a member of the header or payload gets a value of another kind (re-signed),
  // or one character of the encoded token changes (signature kept).
  // mulberry32: small, and its low bits are as good as its high ones (an LCG's cycle).
  let seed = { ES256: 1, RS256: 2, HS256: 3 }[alg];
  const rand = (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n | 0;
  };
  const pool = () => [rand(2 ** 31), -rand(100), rand(1000) / 7, "", "x".repeat(rand(40)), null, true, [], [rand(9)], {}, { a: 1 }, NOW + rand(200) - 100, String(NOW), 2 ** 53 + rand(9)][rand(14)];
  for (let k = 0; k < 60; k++) {
    const inHeader = rand(4) === 0;
    const target = { ...(inHeader ? h0 : c0) };
    const names = Object.keys(target);
    const name = rand(5) === 0 ? `m${rand(5)}` : names[rand(names.length)];
    target[name] = pool();
    add(`random ${inHeader ? "header" : "claim"} ${name}=${JSON.stringify(target[name])}`, inHeader ? token(alg, target, c0) : token(alg, h0, target));
  }
  for (let k = 0; k < 60; k++) {
    const at = rand(valid.length);
    const c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "[rand(69)];
    if (c !== valid[at]) add(`random character ${at}=${JSON.stringify(c)}`, valid.slice(0, at) + c + valid.slice(at + 1));
  }
  // Lengths.
  add("16 KiB claim", token(alg, h0, { ...c0, pad: "x".repeat(16 * 1024) }));
  add("64 KiB claim", token(alg, h0, { ...c0, pad: "x".repeat(64 * 1024) }));
  add("deeply nested claim", token(alg, h0, { ...c0, deep: JSON.parse("[".repeat(200) + "]".repeat(200)) }));
  return out;
}

async function aalgateVerdict(t, dir) {
  const file = path.join(dir, `${crypto.randomUUID()}.jwt`);
  fs.writeFileSync(file, t);
  const args = ["verify", "--json", "--jwks", path.join(dir, "jwks.json"), "--hs256-secret-file", path.join(dir, "hs256"), "--issuer", ISS, "--audience", AUD, "--now", String(NOW), "--leeway", "30", "-"];
  try {
    const { stdout } = await run("sh", ["-c", `exec "$0" "$@" < "${file}"`, bin, ...args]);
    return JSON.parse(stdout);
  } catch (e) {
    if (e.stdout) return JSON.parse(e.stdout);
    throw e;
  } finally {
    fs.rmSync(file);
  }
}

// The same key set as aalgate's (selection by `kid` and `alg`); HS256 from the secret.
const joseKeys = jose.createLocalJWKSet({ keys: [ecPublic, rsPublic] });

async function joseVerdict(alg, t) {
  const key = alg === "HS256" ? new TextEncoder().encode(HS_SECRET) : joseKeys;
  try {
    await jose.jwtVerify(t, key, { issuer: ISS, audience: AUD, algorithms: [alg], clockTolerance: 30, currentDate: new Date(NOW * 1000), requiredClaims: ["exp"] });
    return { valid: true };
  } catch (e) {
    return { valid: false, code: e.code ?? e.name };
  }
}

test("differential: aalgate verify never accepts a token jose refuses; every other disagreement has a named rule", { timeout: 300_000 }, async () => {
  assert.ok(fs.existsSync(bin), `${bin} is missing: run \`cargo build --features cli\` (make test does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-diff-"));
  try {
    fs.writeFileSync(path.join(dir, "jwks.json"), JSON.stringify({ keys: [ecPublic, rsPublic] }));
    fs.writeFileSync(path.join(dir, "hs256"), HS_SECRET);
    const cases = Object.keys(ALGS).flatMap(mutations);
    const results = [];
    // A few binaries at a time.
    for (let i = 0; i < cases.length; i += 8) {
      results.push(...(await Promise.all(cases.slice(i, i + 8).map(async ([name, t]) => {
        const alg = name.split(" ")[0];
        return { name, ours: await aalgateVerdict(t, dir), theirs: await joseVerdict(alg, t) };
      }))));
    }
    if (process.env.DIFF_DEBUG) for (const r of results) console.log(r.name, r.ours.valid, r.ours.code, r.theirs.valid, r.theirs.code);
    const agreeAccept = results.filter((r) => r.ours.valid && r.theirs.valid);
    const agreeRefuse = results.filter((r) => !r.ours.valid && !r.theirs.valid);
    const looser = results.filter((r) => r.ours.valid && !r.theirs.valid);
    const stricter = results.filter((r) => !r.ours.valid && r.theirs.valid);
    const unexplained = stricter.filter((r) => !STRICTER[r.ours.code]);
    const byRule = {};
    for (const r of stricter) (byRule[r.ours.code] ??= []).push(r.name);
    console.log(`differential: ${results.length} tokens; both accept ${agreeAccept.length}, both refuse ${agreeRefuse.length}, ` +
      `aalgate stricter ${stricter.length}, aalgate looser ${looser.length}`);
    for (const [code, names] of Object.entries(byRule)) console.log(`  ${code} (${names.length}): ${STRICTER[code] ?? "UNEXPLAINED"}\n    ${names.join("; ")}`);
    assert.deepEqual(looser.map((r) => `${r.name}: jose ${r.theirs.code}`), [], "tokens aalgate accepts and jose refuses");
    assert.deepEqual(unexplained.map((r) => `${r.name}: aalgate ${r.ours.code}`), [], "disagreements no rule explains");
    assert.ok(agreeAccept.length >= 3, "each algorithm's valid token is accepted by both");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

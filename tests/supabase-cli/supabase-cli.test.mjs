// The real Supabase CLI (npm `supabase`, pinned in package.json; its binary comes from the platform
// package @supabase/cli-<os>-<arch>) as the judge of aalgate's interop with it:
// - keys from `supabase gen signing-key` (ES256, RS256, --append) read by aalgate jwks / verify / mint /
//   explain; keys from `aalgate keygen` used by `supabase gen bearer-jwt`, its tokens verified by aalgate;
// - the service-token recipe (`gen bearer-jwt --role R --sub S --valid-for 2400h`) through the gate's
//   decision (`aalgate explain`): accepted with `accept_cli_tokens = true`, refused naming the setting
//   when off, refused naming max_lifetime at 2400h;
// - `aalgate mint --cli-shape` shaped like the CLI's tokens;
// - `aalgate init` on a folder the real `supabase init` made, checked again by the CLI.
// Everything here runs offline: these CLI commands read and write local files only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const bin = path.join(root, "target/debug/aalgate");
const platformPackage = `@supabase/cli-${process.platform}-${process.arch}`;
const cli = path.join(root, "node_modules", platformPackage, "bin/supabase");
const missing = !fs.existsSync(cli);
if (missing) {
  console.error(
    `\n!!! SKIPPING the Supabase CLI interop tests: ${platformPackage} is not installed (npm has no ` +
      `binary of supabase@2.117.0 for this platform). Nothing here was checked.\n`,
  );
}
const cliTest = (name, fn) => test(name, { skip: missing && `${platformPackage} missing` }, fn);

const SUB = "6f1c1b8e-0000-4000-8000-0000000000aa";
const PROJECT = "https://abcdefghijklmnopqrst.supabase.co";
// The CLI may want to talk to its telemetry; nothing here needs the network.
const env = { ...process.env, DO_NOT_TRACK: "1", SUPABASE_TELEMETRY_DISABLED: "1" };

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function ok(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.code, 0, `${path.basename(cmd)} ${args.join(" ")}\n${r.out}${r.err}`);
  return r;
}
const aalgate = (args, opts) => run(bin, args, opts);
const supabase = (dir, args) => ok(cli, args, { cwd: dir });

/// A folder as `supabase init` makes it, with the signing-keys file switched on (2.117.0 reads the
/// file before writing it, so it must exist: `[]`).
function project(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aalgate-sbcli-${name}-`));
  supabase(dir, ["init"]);
  const config = path.join(dir, "supabase/config.toml");
  const text = fs.readFileSync(config, "utf8");
  const line = '# signing_keys_path = "./signing_keys.json"';
  assert.ok(text.includes(line), "supabase init writes the signing_keys_path line commented out");
  fs.writeFileSync(config, text.replace(line, line.slice(2)));
  fs.writeFileSync(path.join(dir, "supabase/signing_keys.json"), "[]");
  return { dir, keys: path.join(dir, "supabase/signing_keys.json"), config };
}

function bearer(dir, role, validFor = "1h", sub = SUB) {
  const out = supabase(dir, ["gen", "bearer-jwt", "--role", role, "--sub", sub, "--valid-for", validFor]).out;
  const token = out.trim().split(/\s+/).pop();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, out);
  return token;
}

const part = (token, i) => JSON.parse(Buffer.from(token.split(".")[i], "base64url").toString());

function verifyArgs(token, keys, extra = []) {
  return ["verify", "--json", "--jwks", keys, "--now", String(part(token, 1).iat), ...extra, token];
}

for (const alg of ["ES256", "RS256"]) {
  cliTest(`${alg}: a key from supabase gen signing-key is read by aalgate jwks, verify and mint`, () => {
    const p = project(alg);
    supabase(p.dir, ["gen", "signing-key", "--algorithm", alg, "--yes"]);
    const written = JSON.parse(fs.readFileSync(p.keys, "utf8"));
    assert.equal(written.length, 1);
    assert.equal(written[0].alg, alg);

    const jwks = JSON.parse(ok(bin, ["jwks", p.keys]).out);
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kid, written[0].kid);
    for (const member of ["d", "p", "q", "dp", "dq", "qi"]) assert.ok(!(member in jwks.keys[0]), member);

    // The CLI's own token, verified with the CLI's file given as it is.
    const token = bearer(p.dir, "backend_agent_1");
    assert.equal(part(token, 0).alg, alg);
    let v = aalgate(verifyArgs(token, p.keys, ["--accept-cli-role", "backend_agent_1"]));
    assert.equal(v.code, 0, v.out + v.err);
    assert.equal(JSON.parse(v.out).claims.role, "backend_agent_1");
    assert.match(v.err, /signing-keys file; using its public keys/);
    // Without the flag the CLI's shape is refused, and the message says how to accept it.
    v = aalgate(verifyArgs(token, p.keys));
    assert.equal(v.code, 1);
    const refusal = JSON.parse(v.out);
    assert.equal(refusal.code, "claim_missing");
    assert.match(refusal.message, /accept_cli_tokens/);

    // aalgate mint signs with the CLI's key; the published JWKS verifies it.
    fs.writeFileSync(path.join(p.dir, "jwks.json"), JSON.stringify(jwks));
    const minted = ok(bin, ["mint", "--key", p.keys, "--role", "backend_agent_1", "--sub", SUB, "--issuer", `${PROJECT}/auth/v1`]).out.trim();
    assert.equal(part(minted, 0).kid, written[0].kid);
    v = aalgate(verifyArgs(minted, path.join(p.dir, "jwks.json"), ["--issuer", `${PROJECT}/auth/v1`]));
    assert.equal(v.code, 0, v.out + v.err);
  });
}

cliTest("--append: both keys are read; mint signs with the first, as gen bearer-jwt does, and says so", () => {
  const p = project("append");
  supabase(p.dir, ["gen", "signing-key", "--algorithm", "ES256", "--yes"]);
  supabase(p.dir, ["gen", "signing-key", "--algorithm", "RS256", "--append", "--yes"]);
  const written = JSON.parse(fs.readFileSync(p.keys, "utf8"));
  assert.deepEqual(written.map((k) => k.alg), ["ES256", "RS256"]);
  // The CLI leaves both keys able to sign (Supabase Auth refuses such a file: one signing key).
  assert.ok(written.every((k) => k.key_ops.includes("sign")));

  const jwks = JSON.parse(ok(bin, ["jwks", p.keys]).out);
  assert.deepEqual(jwks.keys.map((k) => k.kid), written.map((k) => k.kid));

  const cliToken = bearer(p.dir, "backend_agent_1");
  assert.equal(part(cliToken, 0).kid, written[0].kid, "the CLI signs with the first key");
  const minted = aalgate(["mint", "--key", p.keys, "--role", "backend_agent_1", "--sub", SUB, "--cli-shape"]);
  assert.equal(minted.code, 0, minted.err);
  assert.equal(part(minted.out.trim(), 0).kid, written[0].kid);
  assert.match(minted.err, /several keys have `sign`; signing with the first/);
  const second = ok(bin, ["mint", "--key", p.keys, "--kid", written[1].kid, "--role", "backend_agent_1", "--sub", SUB, "--cli-shape"]).out.trim();
  assert.equal(part(second, 0).alg, "RS256");
  for (const t of [cliToken, minted.out.trim(), second]) {
    const v = aalgate(verifyArgs(t, p.keys, ["--accept-cli-role", "backend_agent_1"]));
    assert.equal(v.code, 0, v.out + v.err);
  }
  // aalgate keygen --append extends the CLI's file and leaves one signing key, as Supabase Auth wants,
  // first in the file, because gen bearer-jwt signs with the first key whatever its key_ops say.
  ok(bin, ["keygen", "--out", p.keys, "--append"]);
  const extended = JSON.parse(fs.readFileSync(p.keys, "utf8"));
  assert.equal(extended.length, 3);
  assert.deepEqual(extended.map((k) => k.key_ops.includes("sign")), [true, false, false]);
  assert.equal(part(bearer(p.dir, "backend_agent_1"), 0).kid, extended[0].kid, "the CLI signs with the one signing key");
  assert.equal(aalgate(verifyArgs(cliToken, p.keys, ["--accept-cli-role", "backend_agent_1"])).code, 0, "old keys still verify");
});

cliTest("a key from aalgate keygen signs supabase gen bearer-jwt tokens that aalgate verify accepts", () => {
  for (const alg of ["ES256", "RS256"]) {
    const p = project(`keygen-${alg}`);
    fs.rmSync(p.keys);
    ok(bin, ["keygen", "--alg", alg, "--out", p.keys]);
    const kid = JSON.parse(fs.readFileSync(p.keys, "utf8"))[0].kid;
    const token = bearer(p.dir, "backend_agent_1");
    assert.equal(part(token, 0).kid, kid);
    assert.equal(part(token, 0).alg, alg);
    const v = aalgate(verifyArgs(token, p.keys, ["--accept-cli-role", "backend_agent_1"]));
    assert.equal(v.code, 0, v.out + v.err);
    // A token of another role is not accepted through the flag.
    const other = bearer(p.dir, "other_role");
    assert.equal(aalgate(verifyArgs(other, p.keys, ["--accept-cli-role", "backend_agent_1"])).code, 1);
  }
});

cliTest("aalgate mint --cli-shape mints what gen bearer-jwt mints: same header and claim names and types", () => {
  const p = project("shape");
  supabase(p.dir, ["gen", "signing-key", "--algorithm", "ES256", "--yes"]);
  const theirs = bearer(p.dir, "backend_agent_1");
  const ours = ok(bin, ["mint", "--key", p.keys, "--role", "backend_agent_1", "--sub", SUB, "--cli-shape"]).out.trim();
  const shape = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v]).sort());
  assert.deepEqual(shape(part(ours, 0)), shape(part(theirs, 0)));
  assert.deepEqual(shape(part(ours, 1)), shape(part(theirs, 1)));
  assert.deepEqual(Object.keys(part(theirs, 1)).sort(), ["exp", "iat", "role", "sub"]);
  assert.equal(part(ours, 0).typ, "JWT");
  // The default mint adds what the gate checks for other tokens.
  const full = part(ok(bin, ["mint", "--key", p.keys, "--role", "backend_agent_1", "--sub", SUB, "--issuer", `${PROJECT}/auth/v1`]).out.trim(), 1);
  assert.deepEqual(Object.keys(full).sort(), ["aud", "exp", "iat", "iss", "role", "sub"]);
});

/// The gate's decision for a CLI-minted service token on a route of the role, as `aalgate explain`
/// shows it, with `keys.jwks_file` = the project's JWKS (from `aalgate jwks`).
function explain(p, token, roleSettings) {
  fs.writeFileSync(path.join(p.dir, "jwks.json"), ok(bin, ["jwks", p.keys]).out);
  const config = path.join(p.dir, "aalgate.toml");
  fs.writeFileSync(
    config,
    `supabase_url = "${PROJECT}"\nrequire_aal2_for_enrolled = true\npreset = true\n[keys]\njwks_file = "jwks.json"\n` +
      `[[service_roles]]\nrole = "backend_agent_1"\n${roleSettings}\nroutes = [{ path = "/rest/v1/weather", methods = ["GET"] }]\n`,
  );
  const r = aalgate(["explain", "--json", "--config", config, "--path", "/rest/v1/weather", "--token", token, "--now", String(part(token, 1).iat)]);
  return { ...r, json: JSON.parse(r.out || "{}") };
}

cliTest("the service-token recipe through the gate: accept_cli_tokens on, off, and 2400h over max_lifetime", () => {
  const p = project("recipe");
  supabase(p.dir, ["gen", "signing-key", "--algorithm", "ES256", "--yes"]);
  const token = bearer(p.dir, "backend_agent_1");

  let r = explain(p, token, "accept_cli_tokens = true\nmax_lifetime = 3600");
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.json.decision, "forward", r.out);
  assert.ok(r.json.steps.some((s) => s.includes("service role `backend_agent_1`: within its scopes")), r.out);

  r = explain(p, token, "max_lifetime = 3600");
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /claim_missing/);
  assert.match(r.out, /accept_cli_tokens/);

  const long = bearer(p.dir, "backend_agent_1", "2400h");
  r = explain(p, long, "accept_cli_tokens = true\nmax_lifetime = 3600");
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /lifetime_too_long/);
  assert.match(r.out, /max_lifetime/);

  // Signed by a key that is not the project's: refused even with the setting on (the signature is
  // the only proof of origin of a token without `iss`).
  const stranger = project("stranger");
  supabase(stranger.dir, ["gen", "signing-key", "--algorithm", "ES256", "--yes"]);
  const foreign = bearer(stranger.dir, "backend_agent_1");
  r = explain(p, foreign, "accept_cli_tokens = true\nmax_lifetime = 3600");
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /key_unknown/);

  // explain's --jwks takes the CLI's signing-keys file as it is.
  const config = path.join(p.dir, "aalgate-url.toml");
  fs.writeFileSync(config, `supabase_url = "${PROJECT}"\npreset = true\n[[service_roles]]\nrole = "backend_agent_1"\naccept_cli_tokens = true\nmax_lifetime = 3600\nroutes = [{ path = "/rest/v1/weather", methods = ["GET"] }]\n`);
  r = aalgate(["explain", "--config", config, "--jwks", p.keys, "--path", "/rest/v1/weather", "--token", token, "--now", String(part(token, 1).iat)]);
  assert.equal(r.code, 0, r.out + r.err);

  // The gate's own configuration never takes private keys: jwks_file = the signing-keys file.
  fs.writeFileSync(config, `supabase_url = "${PROJECT}"\n[keys]\njwks_file = "supabase/signing_keys.json"\n`);
  r = aalgate(["check-config", config]);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out + r.err, /aalgate jwks FILE > jwks\.json/);
});

cliTest("aalgate init on a folder from supabase init: hook and wall migrations, config.toml section, aalgate.toml; idempotent", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-init-"));
  supabase(dir, ["init"]);
  const config = path.join(dir, "supabase/config.toml");
  const before = fs.readFileSync(config, "utf8");
  const now = "1796284800"; // 2026-12-03T08:00:00Z
  let r = aalgate(["init", "--wall", "--now", now], { cwd: dir });
  assert.equal(r.code, 0, r.out + r.err);
  const migrations = fs.readdirSync(path.join(dir, "supabase/migrations")).sort();
  assert.deepEqual(migrations, ["20261203080000_aalgate_mfa_claims.sql", "20261203080001_aalgate_wall.sql"]);
  assert.equal(
    fs.readFileSync(path.join(dir, "supabase/migrations", migrations[0]), "utf8"),
    fs.readFileSync(path.join(root, "sql/20261122000000_aalgate_mfa_claims.sql"), "utf8"),
  );
  assert.equal(
    fs.readFileSync(path.join(dir, "supabase/migrations", migrations[1]), "utf8"),
    fs.readFileSync(path.join(root, "sql/20261202000000_aalgate_wall.sql"), "utf8"),
  );
  const after = fs.readFileSync(config, "utf8");
  const section = '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/public/aalgate_access_token_hook"\n';
  assert.ok(after.includes(section), after);
  // Nothing else in the file changed: every line of before is still there, in order.
  assert.equal(after.replace(`${section}\n`, ""), before);
  assert.match(r.out, /supabase db push/);
  const gateConfig = fs.readFileSync(path.join(dir, "aalgate.toml"), "utf8");
  assert.match(gateConfig, /supabase_url = "http:\/\/127\.0\.0\.1:54321"/);
  assert.match(gateConfig, /preset = true/);
  ok(bin, ["check-config", path.join(dir, "aalgate.toml")]);

  // The real CLI still loads the edited config.toml (gen bearer-jwt reads and validates it).
  fs.writeFileSync(config, after.replace('# signing_keys_path = "./signing_keys.json"', 'signing_keys_path = "./signing_keys.json"'));
  fs.writeFileSync(path.join(dir, "supabase/signing_keys.json"), "[]");
  supabase(dir, ["gen", "signing-key", "--yes"]);
  bearer(dir, "backend_agent_1");
  const edited = fs.readFileSync(config, "utf8");

  // Again: nothing changes.
  r = aalgate(["init", "--wall", "--now", String(Number(now) + 60)], { cwd: dir });
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal((r.out.match(/^unchanged /gm) ?? []).length, 4, r.out);
  assert.equal(fs.readFileSync(config, "utf8"), edited);
  assert.equal(fs.readdirSync(path.join(dir, "supabase/migrations")).length, 2);

  // A project URL that the gate would refuse is refused before anything is written.
  r = aalgate(["init", "--project-url", "http://example.com", "--config-out", path.join(dir, "other.toml")], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.err, /supabase_url/);
  assert.ok(!fs.existsSync(path.join(dir, "other.toml")));
});

cliTest("aalgate init refuses another hook without --force, names it, and leaves the folder as it was", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-init-force-"));
  supabase(dir, ["init"]);
  const config = path.join(dir, "supabase/config.toml");
  const mine = fs.readFileSync(config, "utf8") + '\n[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/public/my_claims_hook"\n';
  fs.writeFileSync(config, mine);
  let r = aalgate(["init", "--project-url", PROJECT], { cwd: dir });
  assert.equal(r.code, 2, r.out + r.err);
  assert.match(r.err, /pg-functions:\/\/postgres\/public\/my_claims_hook/);
  assert.match(r.err, /--force/);
  assert.match(r.err, /add_mfa_claims/);
  assert.equal(fs.readFileSync(config, "utf8"), mine);
  assert.ok(!fs.existsSync(path.join(dir, "supabase/migrations")) || fs.readdirSync(path.join(dir, "supabase/migrations")).length === 0);
  assert.ok(!fs.existsSync(path.join(dir, "aalgate.toml")));

  r = aalgate(["init", "--project-url", PROJECT, "--force"], { cwd: dir });
  assert.equal(r.code, 0, r.out + r.err);
  const after = fs.readFileSync(config, "utf8");
  assert.ok(after.includes('uri = "pg-functions://postgres/public/aalgate_access_token_hook"'));
  assert.ok(!after.includes("my_claims_hook"));
  assert.match(fs.readFileSync(path.join(dir, "aalgate.toml"), "utf8"), new RegExp(`supabase_url = "${PROJECT}"`));

  // An edited aalgate migration is not overwritten: without --force it is named; with it a new one is added.
  const migrations = path.join(dir, "supabase/migrations");
  const [hook] = fs.readdirSync(migrations);
  fs.appendFileSync(path.join(migrations, hook), "-- my edit\n");
  r = aalgate(["init", "--project-url", PROJECT], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(hook));
  r = aalgate(["init", "--project-url", PROJECT, "--force"], { cwd: dir });
  assert.equal(r.code, 0, r.err);
  assert.equal(fs.readdirSync(migrations).length, 2);
});

cliTest("aalgate init without a config.toml says to run supabase init", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-init-none-"));
  const r = aalgate(["init"], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.err, /supabase\/config\.toml: not found; run `supabase init` first/);
});

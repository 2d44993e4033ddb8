/**
 * Adds an AMI user to manager.conf with the lossless editor, the way an admin panel would:
 * `node add-user.js /etc/asterisk/manager.conf crm 10.0.0.0/8`. The user may read call and cdr
 * events and originate calls from that network only; its secret is generated from the OS's
 * CSPRNG and printed once. Then apply it with `manager reload` (or `asterisk -rx`).
 */
import { ConfigEditError, ManagerConfig } from "libami";

function main(): number {
  const [file = "manager.conf", name = "crm", network = "10.0.0.0/8"] = process.argv.slice(2);
  const editor = ManagerConfig.fromPath(file).edit();
  let report;
  try {
    report = editor.addUser(name, {
      generateSecret: true,
      read: ["call", "cdr"],
      write: "originate",
      permit: [network],
    });
  } catch (e) {
    if (!(e instanceof ConfigEditError)) throw e;
    // e.g. "manager.conf:13: the name `crm` is already used by the section at manager.conf:13: ..."
    console.error(`${e.file ?? file}${e.line === undefined ? "" : `:${e.line}`}: ${e.message}`);
    return 1;
  }
  for (const f of report.findings) console.error(`${f.severity} ${f.code}: ${f.message} (${f.hint})`);
  for (const note of report.notes) console.error(`note: ${note}`);
  for (const written of editor.write()) console.error(`wrote ${written}`);
  const user = editor.config.user(name);
  console.error(`${name}: read ${user?.read.toConfigList()}, write ${user?.write.toConfigList()}`);
  console.log(report.generatedSecret);
  return 0;
}

process.exitCode = main();

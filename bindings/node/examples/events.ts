/**
 * Connects to Asterisk, pings it, lists the channels, and prints every hangup with its cause
 * until Ctrl-C. Run: `node events.js` with AMI_HOST, AMI_PORT, AMI_USER and AMI_SECRET set.
 */
import { ActionError, actions, connect, events } from "libami";

async function main(): Promise<void> {
  const ami = await connect({
    host: process.env.AMI_HOST ?? "127.0.0.1",
    port: Number(process.env.AMI_PORT ?? 5038),
    username: process.env.AMI_USER ?? "admin",
    secret: process.env.AMI_SECRET ?? "",
    auth: "md5",
  });
  process.once("SIGINT", () => void ami.close());
  ami.on("disconnected", (why: string) => console.error(`disconnected (${why}), reconnecting`));

  const pong = await ami.action("Ping");
  console.log(`${ami.banner}: ${pong.get("Ping")}`);

  for (const channel of await ami.actionList("CoreShowChannels")) {
    console.log(`up: ${channel.get("Channel")} (${channel.get("ApplicationData")})`);
  }

  try {
    await ami.action(actions.Originate({ channel: "Local/100@default", application: "Wait", data: 1, async: true }));
  } catch (e) {
    if (!(e instanceof ActionError)) throw e;
    console.error(`no call: ${e.response.get("Message")}`);
  }

  // Typed: `h` is an events.Hangup, whose documented fields are properties.
  for await (const h of ami.events({ name: "Hangup", typed: true, onLag: (n) => console.error(`missed ${n} events`) })) {
    const hangup: events.Hangup = h;
    console.log(`${hangup.channel}: ${hangup.causeTxt ?? "?"} (${hangup.cause ?? "?"})`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

import { createMllpClient } from '../transport/mllp';
import { splitHl7Lines } from '../parsers/hl7';

/**
 * The messages of an HL7 file: one message, several messages one after another (each starting
 * with MSH), or a batch file (FHS/BHS … BTS/FTS), which is sent whole as one frame. LF and CRLF
 * line ends become CR, the HL7 segment terminator.
 */
export function hl7FileMessages(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1').replace(/^\uFEFF/, '');
  const lines = splitHl7Lines(text).map((l) => l.text).filter((l) => l.trim().length > 0);
  if (lines.length > 0 && /^(FHS|BHS)/.test(lines[0])) {
    return [Buffer.from(`${lines.join('\r')}\r`, 'latin1')];
  }
  const messages: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('MSH') || messages.length === 0) {
      messages.push([]);
    }
    messages[messages.length - 1].push(line);
  }
  return messages.map((m) => Buffer.from(`${m.join('\r')}\r`, 'latin1'));
}

/**
 * `lotbridge send file.hl7`: sends each message of the file over MLLP (one connection) and prints
 * each ACK, one segment per line, a blank line between ACKs. True when every ACK is AA or CA (for a
 * batch file, every MSA of its batch of ACKs).
 * The bytes are sent as they are in the file (latin1 round trip), so MSH-18 still says how to read them.
 */
export async function sendHl7OverMllp(bytes: Buffer, target: string): Promise<boolean> {
  const m = /^(.*):(\d+)$/.exec(target);
  const host = m ? m[1] || '127.0.0.1' : '127.0.0.1';
  const port = Number(m ? m[2] : target);
  const client = createMllpClient({ host, port, timeoutMs: 30000 });
  let allAccepted = true;
  try {
    for (const msg of hl7FileMessages(bytes)) {
      const ack = (await client.send(msg)).toString('latin1');
      console.log(ack.replace(/\r/g, '\n').trim());
      console.log('');
      if (!acksAccepted(ack)) {
        allAccepted = false;
      }
    }
  } finally {
    await client.close();
  }
  return allAccepted;
}

/**
 * True when an answer accepts everything: it has an MSA and every MSA says AA or CA (a batch file
 * is answered with a batch of ACKs, one MSA per message).
 * @param answer - the ACK (or batch of ACKs) as text
 */
export function acksAccepted(answer: string): boolean {
  const codes = answer.split(/\r\n|\r|\n/).filter((l) => l.startsWith('MSA')).map((l) => l.slice(4, 6));
  return codes.length > 0 && codes.every((c) => c === 'AA' || c === 'CA');
}

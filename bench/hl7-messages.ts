const GTINS = ['09506000134352', '09506000134376', '09506000134383', '09506000134390'];

/** A realistic DFT^P03 v2.8.2: one implant used in a procedure, identified by a PRT with its GS1 UDI. */
export function dftP03(i: number, run: string): Buffer {
  const gtin = GTINS[i % GTINS.length];
  const lot = `L${(i % 200).toString().padStart(4, '0')}`;
  const serial = `S${run}${i}`;
  const ts = `202603${String(1 + (i % 28)).padStart(2, '0')}1015${String(i % 60).padStart(2, '0')}`;
  const segs = [
    `MSH|^~\\&|ORIS|STMARYS^0614141000012^GLN|LOTBRIDGE|ACME|${ts}||DFT^P03^DFT_P03|B${run}${i}|P|2.8.2|||AL|NE||UNICODE UTF-8`,
    `EVN|P03|${ts}`,
    `PID|1||MRN${100000 + (i % 5000)}^^^STMARYS^MR||DOE^JANE^Q||19650412|F`,
    `PV1|1|O|OR${1 + (i % 6)}^^^STMARYS||||||||||||||||V${200000 + i}`,
    `FT1|1|||${ts}||CG|${gtin}^Knee implant \\T\\ liner^GTIN|||1||||||||||||||0SRC0JZ^Replacement of right knee joint^ICD10PCS`,
    `PRT|1|AD||EQUIP^Equipment^HL70912||||||(01)${gtin}(17)270331(10)${lot}(21)${serial}||||||${gtin}^^2.51.1.1^ISO||20270331|${lot}|${serial}`,
  ];
  return Buffer.from(`${segs.join('\r')}\r`, 'utf8');
}

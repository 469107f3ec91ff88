import fs from 'node:fs';

/**
 * Reads ModelProto.metadata_props (field 14) and model_version (field 5) straight from the
 * .onnx protobuf: onnxruntime-node does not expose custom metadata, and this is where the
 * model declares its feature order, name and alert threshold.
 */
export interface OnnxMetadata {
  props: Record<string, string>;
  modelVersion?: number;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly end = buf.length) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
      shift += 7;
    }
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) {
      const len = this.varint(); // read first: `pos += varint()` would add to the stale pos
      this.pos += len;
    }
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}

function readEntry(buf: Buffer, start: number, end: number): [string, string] {
  const r = new Reader(buf, end);
  r.pos = start;
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.varint();
    if ((tag & 7) === 2) {
      const len = r.varint();
      const text = buf.toString('utf8', r.pos, r.pos + len);
      r.pos += len;
      if (tag >>> 3 === 1) key = text;
      else if (tag >>> 3 === 2) value = text;
    } else {
      r.skip(tag & 7);
    }
  }
  return [key, value];
}

export function readOnnxMetadata(file: string): OnnxMetadata {
  const buf = fs.readFileSync(file);
  const r = new Reader(buf);
  const props: Record<string, string> = {};
  let modelVersion: number | undefined;
  while (r.pos < buf.length) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 14 && wireType === 2) {
      const len = r.varint();
      const [k, v] = readEntry(buf, r.pos, r.pos + len);
      props[k] = v;
      r.pos += len;
    } else if (field === 5 && wireType === 0) {
      modelVersion = r.varint();
    } else {
      r.skip(wireType);
    }
  }
  return { props, modelVersion };
}

// Element types. f64 exists on the CPU backend only (gradient checks); the GPU speaks f32 and i32.
export type DType = 'f32' | 'i32' | 'f64';
export type HostArray = Float32Array | Int32Array | Float64Array;

export const bytesPer = (dtype: DType): number => (dtype === 'f64' ? 8 : 4);

export function hostArray(dtype: DType, size: number): HostArray {
  switch (dtype) {
    case 'f32': return new Float32Array(size);
    case 'i32': return new Int32Array(size);
    case 'f64': return new Float64Array(size);
    default: return dtype satisfies never;
  }
}

export function toHostArray(dtype: DType, values: ArrayLike<number>): HostArray {
  const out = hostArray(dtype, values.length);
  if (dtype === 'i32') {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v)) throw new TypeError(`i32 tensor: value ${v} at index ${i} is not an integer`);
      out[i] = v;
    }
  } else out.set(values);
  return out;
}

export const isFloat = (dtype: DType): boolean => dtype !== 'i32';

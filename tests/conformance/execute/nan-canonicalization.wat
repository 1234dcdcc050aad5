;; Returns the bits of 0/0 (f32 and f64) as head data: NaNs are canonicalised.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i32.store8 (i32.const 256) (i32.const 48))
    (f32.store (i32.const 257) (f32.div (f32.const 0) (f32.const 0)))
    (f64.store (i32.const 261) (f64.sqrt (f64.const -1)))
    (i64.const 0x1800000100)))

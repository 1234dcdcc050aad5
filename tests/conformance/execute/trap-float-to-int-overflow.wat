;; Traps on i32.trunc_f32_s of NaN (the MVP trapping conversion).
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (drop (i32.trunc_f32_s (f32.div (f32.const 0) (f32.const 0))))
    (i64.const 0xc00000100)))

;; Non-trapping float-to-int: i32.trunc_sat_f32_s.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))

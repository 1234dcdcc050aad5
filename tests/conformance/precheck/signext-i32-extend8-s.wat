;; Sign-extension proposal: i32.extend8_s.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.extend8_s (local.get 0)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))

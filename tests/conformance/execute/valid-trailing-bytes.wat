;; Returns an empty ValidationResult followed by 4 more bytes (length 16).
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 268) "\ff\ff\ff\ff")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0x1000000100)))

;; Returns one byte, 0xff: not a SCALE ValidationResult.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 256) "\ff")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0x100000100)))

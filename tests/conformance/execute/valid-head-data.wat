;; Returns a ValidationResult with head data "abcd", hrmp_watermark 7 and processed_downward 3.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 256) "\10abcd\00\00\00\03\00\00\00\07\00\00\00")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0x1000000100)))

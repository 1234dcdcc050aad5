;; Logs at info level, then returns an empty result.
(module
  (import "env" "ext_logging_log_version_1" (func $log (param i32 i64 i64)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 1024) "runtime")
  (data (i32.const 1040) "hello")
  (func (export "validate_block") (param i32 i32) (result i64)
    (call $log (i32.const 3) (i64.const 0x700000400) (i64.const 0x500000410))
    (i64.const 0xc00000100)))

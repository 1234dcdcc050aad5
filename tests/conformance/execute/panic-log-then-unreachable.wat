;; Logs a message at error level (as a runtime's panic handler does), then traps.
(module
  (import "env" "ext_logging_log_version_1" (func $log (param i32 i64 i64)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 1024) "runtime")
  (data (i32.const 1040) "panicked at conformance: block is bad")
  (func (export "validate_block") (param i32 i32) (result i64)
    ;; level 1 = error; fat pointers are (len << 32) | ptr
    (call $log (i32.const 1) (i64.const 0x700000400) (i64.const 0x2500000410))
    unreachable))

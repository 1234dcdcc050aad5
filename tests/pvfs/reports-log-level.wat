;; Returns the log level the host reports through `ext_logging_max_level_version_1` as its
;; one-byte head data: a PVF can branch on it, so it must be the reference's.
(module
  (import "env" "ext_logging_max_level_version_1" (func $max_level (result i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  ;; ValidationResult: head_data = [level], no code, no messages, 0 processed, watermark 0.
  (data (i32.const 1024) "\04\00\00\00\00\00\00\00\00\00\00\00\00")
  (func (export "validate_block") (param i32 i32) (result i64)
    (i32.store8 (i32.const 1025) (call $max_level))
    (i64.or (i64.shl (i64.const 13) (i64.const 32)) (i64.const 1024))))

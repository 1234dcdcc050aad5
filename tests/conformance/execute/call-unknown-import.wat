;; Calls a storage host function, which the PVF host set leaves out: the call traps.
(module
  (import "env" "ext_storage_get_version_1" (func $storage_get (param i64) (result i64)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (call $storage_get (i64.const 0))))

;; Imports a storage host function (outside the PVF set) with its signature.
(module
  (import "env" "ext_storage_get_version_1" (func (param i64) (result i64)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))

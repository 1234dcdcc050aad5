;; Asks the host allocator for 200 MiB, more than the heap can give.
(module
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (drop (call $malloc (i32.const 209715200)))
    (i64.const 0xc00000100)))

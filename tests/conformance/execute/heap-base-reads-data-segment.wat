;; A data segment above __heap_base is returned as head data: the allocator must not have
;; clobbered it before the call.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 70000) "\0cxyz\00\00\00\00\00\00\00\00\00\00\00")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xf00011170)))

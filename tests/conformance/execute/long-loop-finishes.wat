;; Counts to 100,000,000 (well under a second) and returns the count's low byte as head data.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (local $i i32)
    (loop $count
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $count (i32.lt_u (local.get $i) (i32.const 100000000))))
    (i32.store8 (i32.const 256) (i32.const 4))
    (i32.store8 (i32.const 257) (local.get $i))
    (i64.const 0xd00000100)))

;; Recurses 10,000 deep, then returns an empty result: under the stack limit.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func $down (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $down (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
  (func (export "validate_block") (param i32 i32) (result i64)
    (drop (call $down (i32.const 10000)))
    (i64.const 0xc00000100)))

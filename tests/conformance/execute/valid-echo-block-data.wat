;; block-data-hex: 0102030405
;; Echoes the 5 bytes of block data as head data and the relay parent number as
;; hrmp_watermark: checks the layout of the ValidationParams the host passes in
;; (empty parent head at ptr, then compact length 5, the bytes, the u32 number).
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (i32.store8 (i32.const 256) (i32.load8_u offset=1 (local.get $ptr)))
    (loop $copy
      (i32.store8 offset=257 (local.get $i)
        (i32.load8_u offset=2 (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $i) (i32.const 5))))
    ;; bytes 262..265: no code, no upward, no horizontal messages, processed_downward 0
    (i32.store (i32.const 265) (i32.const 0))
    (i32.store (i32.const 269) (i32.load offset=7 (local.get $ptr)))
    (i64.const 0x1100000100)))

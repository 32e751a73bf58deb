"""The cell: many vehicles sharing one radio channel (the road, the link budget from geometry,
the medium's slots and the schedulers that grant its resource blocks)."""

"""What only training needs: the frozen-encoder cache, packing answers into windows, length-grouped
batches, and augmentation."""

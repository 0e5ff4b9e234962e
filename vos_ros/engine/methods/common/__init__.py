"""Parts shared by methods: grid masks, k-means, pixel embeddings, the outlier anchor."""

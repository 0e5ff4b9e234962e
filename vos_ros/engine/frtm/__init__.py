"""Parts of the fast target-model method (FRTM-VOS): target model + GN-CG, memory, augmentation."""

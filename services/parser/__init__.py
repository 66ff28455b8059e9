"""Parser service: raw stats files in, parsed rounds or rejections out."""

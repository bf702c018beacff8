"""Evidence: encrypted objects (snapshots, recordings, ID photos) in a
regional object store, envelope keys with crypto-shredding, signed URLs.

``service`` stores and opens objects; ``uploads`` is the resumable upload
pipeline; ``stores`` the local and S3-compatible back ends; ``crypto`` the
streaming AES-256-GCM format; ``keys`` the master -> tenant -> data key
hierarchy; ``signed_urls`` and ``api`` the staff read path.
"""
